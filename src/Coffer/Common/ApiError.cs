using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;

namespace Coffer.Common;

/// <summary>Flexprice's error envelope, with Coffer's stable machine-readable <c>code</c> added.</summary>
public sealed record ErrorBody(string Message, string Code, string? InternalError = null, object? Details = null);

public sealed record ErrorEnvelope(bool Success, ErrorBody Error);

/// <summary>Stable error codes: clients branch on these, so they are never renamed.</summary>
public static class ErrorCodes
{
    public const string ValidationFailed = "validation_failed";
    public const string NotFound = "not_found";
    public const string Unauthorized = "unauthorized";
    public const string InsufficientBalance = "insufficient_balance";
    public const string WalletNotActive = "wallet_not_active";
    /// <summary>A refund as store credit found no active wallet of the customer in the payment's currency.</summary>
    public const string NoActiveWallet = "no_active_wallet";
    public const string BalanceLimitExceeded = "balance_limit_exceeded";
    /// <summary>A debit would take a dimension value past the wallet's cap for the day or month (its spend_caps).</summary>
    public const string SpendLimitExceeded = "spend_limit_exceeded";
    /// <summary>Credits move only between wallets of one currency and credit currency.</summary>
    public const string CurrencyMismatch = "currency_mismatch";
    public const string PaymentFailed = "payment_failed";
    public const string PaymentInProgress = "payment_in_progress";
    public const string GatewayError = "gateway_error";
    public const string InvoiceNotPayable = "invoice_not_payable";
    public const string IdempotencyKeyReused = "idempotency_key_reused";
    public const string IdempotencyKeyInUse = "idempotency_key_in_use";
    public const string AlreadyExists = "already_exists";
    public const string Conflict = "conflict";
    public const string PayloadTooLarge = "payload_too_large";
    public const string Internal = "internal_error";
    public const string Unavailable = "service_unavailable";
    public const string OutcomeUnknown = "outcome_unknown";
    /// <summary>The tenant has no gateway that may take its money now: live mode without a live one (see Tenants/Modes).</summary>
    public const string GatewayNotConfigured = "gateway_not_configured";
    /// <summary>A setting that does not fit the tenant's mode: the sandbox or test credentials in live mode, live credentials in test mode.</summary>
    public const string WrongMode = "wrong_mode";
    /// <summary>A web page of an origin not in the tenant's client_config, or a browser calling the secret-key API.</summary>
    public const string OriginNotAllowed = "origin_not_allowed";
    /// <summary>What the merchant's portal_config does not offer its customers (automatic top-up when it is off).</summary>
    public const string NotAllowed = "not_allowed";
    /// <summary>More than the merchant's portal_config allows at once (credits per automatic top-up, top-ups a day).</summary>
    public const string LimitExceeded = "limit_exceeded";
    /// <summary>The request names an environment (X-Environment-ID) other than the API key's.</summary>
    public const string EnvironmentMismatch = "environment_mismatch";
    public const string RateLimited = "rate_limited";
    /// <summary>An operation of an atomic batch that was not applied because another operation of the batch was refused.</summary>
    public const string BatchNotApplied = "batch_not_applied";
}

/// <summary>The one error result every endpoint returns; its metadata documents the envelope in OpenAPI.</summary>
public sealed class ApiError(int status, string code, string message, object? details = null)
    : IResult, IStatusCodeHttpResult, IValueHttpResult, IEndpointMetadataProvider
{
    public int StatusCode { get; } = status;
    public string Code { get; } = code;
    public string Message { get; } = message;
    int? IStatusCodeHttpResult.StatusCode => StatusCode;
    object? IValueHttpResult.Value => Envelope;
    public ErrorEnvelope Envelope => new(false, new ErrorBody(Message, Code, null, details));

    public static ApiError Validation(string message, object? details = null) => new(400, ErrorCodes.ValidationFailed, message, details);
    public static ApiError NotFound(string what) => new(404, ErrorCodes.NotFound, $"{what} not found");
    public static ApiError Conflict(string code, string message) => new(409, code, message);
    public static ApiError Unprocessable(string code, string message, object? details = null) => new(422, code, message, details);

    /// <summary>
    /// The connection was lost while the change was being committed: it may or may not have taken effect. A
    /// retry with the same idempotency key replays it if it did and applies it once if it did not.
    /// </summary>
    public static ApiError OutcomeUnknown(string? idempotencyKey) => new(503, ErrorCodes.OutcomeUnknown, idempotencyKey is null
        ? "the connection to the database was lost while committing; the change may or may not have been applied: check before repeating it"
        : $"the connection to the database was lost while committing; the change may or may not have been applied: retry with idempotency key '{idempotencyKey}' to learn its outcome");

    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCode;
        return httpContext.Response.WriteAsJsonAsync(Envelope, Json.Options);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        // 503: the database is unavailable, or a commit's outcome is unknown (outcome_unknown).
        foreach (var status in new[] { 400, 404, 409, 422, 503 })
            builder.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(ErrorEnvelope), ["application/json"]));
    }
}
