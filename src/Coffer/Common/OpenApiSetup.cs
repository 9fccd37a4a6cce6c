using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Coffer.Common;

/// <summary>Keeps the OpenAPI document true to the wire: decimals and instants as strings, the API key, idempotency headers.</summary>
public static class OpenApiSetup
{
    static readonly HashSet<string> IdempotentOperations =
        ["createWallet", "updateWallet", "topUpWallet", "debitWallet", "adjustWallet", "terminateWallet", "createHold", "captureHold", "releaseHold",
            "createWalletSchedule"];

    /// <summary>Customer API operations that move money or change settings: their Idempotency-Key header is required.</summary>
    static readonly HashSet<string> CustomerKeyedOperations = ["customerTopUp", "customerPurchasePackage", "customerPutAutoTopUp"];

    public static void Configure(OpenApiOptions o)
    {
        o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Coffer API";
            doc.Info.Description = "Prepaid wallets and credits ledger; wire-compatible with Flexprice's public API v1 for the resources both have. " +
                                   "Every error is {\"success\": false, \"error\": {\"message\", \"code\", \"internal_error\", \"details\"}}.";
            doc.Components ??= new OpenApiComponents();
            doc.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            doc.Components.SecuritySchemes["ApiKeyAuth"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = "x-api-key",
            };
            doc.Components.SecuritySchemes["CustomerToken"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http, Scheme = "bearer",
                Description = "A customer token from POST /v1/customer-sessions; the /v1/customer/… operations take it instead of an API key.",
            };
            doc.Security ??= [];
            doc.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("ApiKeyAuth", doc)] = [] });
            return Task.CompletedTask;
        });

        o.AddSchemaTransformer((schema, context, _) =>
        {
            var type = context.JsonTypeInfo.Type;
            var asNumber = context.JsonPropertyInfo?.CustomConverter is Json.DecimalAsNumber;
            if ((type == typeof(decimal) || type == typeof(decimal?)) && !asNumber)
            {
                schema.Type = type == typeof(decimal?) ? JsonSchemaType.String | JsonSchemaType.Null : JsonSchemaType.String;
                schema.Format = "decimal";
                schema.Pattern = null;
            }
            else if (asNumber)
            {
                schema.Type = JsonSchemaType.Number | JsonSchemaType.Null;
                schema.Format = null;
            }
            else if (type == typeof(DateTimeOffset) || type == typeof(DateTimeOffset?))
            {
                // Json.UtcInstant writes every instant as an RFC 3339 string; with a custom converter the generator
                // knows only the format and leaves the type out.
                schema.Type = type == typeof(DateTimeOffset?) ? JsonSchemaType.String | JsonSchemaType.Null : JsonSchemaType.String;
                schema.Format = "date-time";
            }
            return Task.CompletedTask;
        });

        o.AddOperationTransformer((operation, context, _) =>
        {
            operation.Responses ??= new OpenApiResponses();
            if (context.Description.RelativePath?.StartsWith("v1/customer/", StringComparison.Ordinal) == true)
            {
                operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("CustomerToken", context.Document)] = [] }];
                operation.Responses.TryAdd("401", new OpenApiResponse { Description = "Missing, expired or revoked customer token (code unauthorized)" });
                operation.Responses.TryAdd("403", new OpenApiResponse { Description = "A web origin not in client_config (code origin_not_allowed)" });
                if (operation.OperationId is { } keyed && CustomerKeyedOperations.Contains(keyed))
                    AddKeyHeader(operation, required: true,
                        "Chosen by the client and kept across retries: the same key and request replay the first answer and charge nothing again.");
                return Task.CompletedTask;
            }
            operation.Responses.TryAdd("401", new OpenApiResponse { Description = "Missing or unknown API key (code unauthorized)" });
            if (operation.OperationId is { } id && IdempotentOperations.Contains(id))
                AddKeyHeader(operation, required: false, "Used when the body has no idempotency_key: the same key and request replay the first response.");
            return Task.CompletedTask;
        });
    }

    static void AddKeyHeader(OpenApiOperation operation, bool required, string description)
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = "Idempotency-Key", In = ParameterLocation.Header, Required = required, Description = description,
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 255 },
        });
    }
}
