using System.Data.Common;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace Coffer.Common;

/// <summary>
/// Turns what escapes a handler into the one error envelope. Errors never lie: bad input is a 400, an
/// unreachable database is a 503, a request that lost a race on a unique constraint is a 409, and only a bug
/// is a 500.
/// </summary>
public static class ErrorHandling
{
    public static void UseCofferErrors(this WebApplication app)
    {
        app.UseExceptionHandler(handler => handler.Run(async context =>
        {
            var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            var result = Classify(error);
            if (result.StatusCode >= 500)
                app.Logger.LogError(error, "request {Method} {Path} failed", context.Request.Method, context.Request.Path);
            await result.ExecuteAsync(context);
        }));

        // Kestrel enforces the body limit too; this answers early, in the envelope, on any server.
        app.Use(async (context, next) =>
        {
            if (context.Request.ContentLength > BodyLimit(context))
            {
                await TooLarge(context).ExecuteAsync(context);
                return;
            }
            if ((context.Request.Path.Value?.Length ?? 0) + (context.Request.QueryString.Value?.Length ?? 0) > Limits.MaxRequestLineLength)
            {
                await new ApiError(414, ErrorCodes.ValidationFailed, $"the URL is longer than {Limits.MaxRequestLineLength} characters").ExecuteAsync(context);
                return;
            }
            await next(context);
        });

        // Unknown routes and wrong methods answer in the same envelope as everything else.
        app.UseStatusCodePages(async status =>
        {
            var response = status.HttpContext.Response;
            if (response.HasStarted || response.ContentLength > 0 || response.ContentType is not null) return;
            var error = response.StatusCode switch
            {
                404 => new ApiError(404, ErrorCodes.NotFound, "no such route"),
                405 => new ApiError(405, ErrorCodes.ValidationFailed, "method not allowed on this route"),
                // A chunked body has no Content-Length to refuse up front; the body reader stops it here.
                413 => TooLarge(status.HttpContext),
                415 => new ApiError(415, ErrorCodes.ValidationFailed, "the body must be application/json"),
                400 when MisboundValue(status.HttpContext) is { } name => ApiError.Validation($"{name} has a value of the wrong type"),
                _ => new ApiError(response.StatusCode, response.StatusCode >= 500 ? ErrorCodes.Internal : ErrorCodes.ValidationFailed, "request failed"),
            };
            await error.ExecuteAsync(status.HttpContext);
        });
    }

    /// <summary>The batch endpoint raises the limit for itself (<see cref="RequestSizeLimitAttribute"/>); routing runs first, so its metadata is known here.</summary>
    static long BodyLimit(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize ?? Limits.MaxRequestBodyBytes;

    static ApiError TooLarge(HttpContext context) =>
        new(413, ErrorCodes.PayloadTooLarge, $"request body larger than {BodyLimit(context)} bytes");

    public static ApiError Classify(Exception? error) => error switch
    {
        BadHttpRequestException { StatusCode: 413 } => new ApiError(413, ErrorCodes.PayloadTooLarge, "request body too large"),
        BadHttpRequestException { InnerException: JsonException json } => ApiError.Validation(DescribeJson(json)),
        BadHttpRequestException bad when bad.StatusCode == 415 => new ApiError(415, ErrorCodes.ValidationFailed, "the body must be application/json"),
        BadHttpRequestException bad => new ApiError(bad.StatusCode, ErrorCodes.ValidationFailed, DescribeBinding(bad.Message)),
        JsonException json => ApiError.Validation(DescribeJson(json)),
        // Never "nothing was changed": the commit may have taken effect.
        Storage.CommitOutcomeUnknownException => ApiError.OutcomeUnknown(null),
        // A unique violation is a concurrent request that claimed the same thing first, not an outage.
        DbException db when Storage.Database.UniqueViolation(db) =>
            ApiError.Conflict(ErrorCodes.Conflict, "a concurrent request changed the same resource; nothing was changed, retry the request"),
        DbException db when Storage.Database.Unavailable(db) => Unavailable,
        TimeoutException or System.Net.Sockets.SocketException => Unavailable,
        _ => new ApiError(500, ErrorCodes.Internal, "internal error"),
    };

    static ApiError Unavailable => new(503, ErrorCodes.Unavailable, "the database is unavailable; nothing was changed");

    /// <summary>
    /// The compile-time request delegates answer a bare 400, without the exception that names it, when an optional
    /// number in the query or route does not parse; the endpoint's parameter metadata says which one it was.
    /// </summary>
    static string? MisboundValue(HttpContext context)
    {
        foreach (var p in context.GetEndpoint()?.Metadata.GetOrderedMetadata<Microsoft.AspNetCore.Http.Metadata.IParameterBindingMetadata>() ?? [])
        {
            if (!p.HasTryParse) continue;
            var name = p.ParameterInfo.GetCustomAttributes(typeof(Microsoft.AspNetCore.Mvc.FromQueryAttribute), false)
                .OfType<Microsoft.AspNetCore.Mvc.FromQueryAttribute>().FirstOrDefault()?.Name ?? p.Name;
            var raw = context.Request.RouteValues.TryGetValue(name, out var routed) ? routed?.ToString() : context.Request.Query[name].ToString();
            if (!string.IsNullOrEmpty(raw) && !Parses(Nullable.GetUnderlyingType(p.ParameterInfo.ParameterType) ?? p.ParameterInfo.ParameterType, raw))
                return name;
        }
        return null;
    }

    static bool Parses(Type type, string raw)
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        if (type == typeof(int)) return int.TryParse(raw, invariant, out _);
        if (type == typeof(long)) return long.TryParse(raw, invariant, out _);
        if (type == typeof(decimal)) return decimal.TryParse(raw, invariant, out _);
        if (type == typeof(bool)) return bool.TryParse(raw, out _);
        if (type == typeof(Guid)) return Guid.TryParse(raw, out _);
        if (type == typeof(DateTimeOffset)) return DateTimeOffset.TryParse(raw, invariant, out _);
        return true;
    }

    /// <summary>The framework names parameters with their .NET types (<c>Nullable&lt;int&gt; limit</c>); callers see only the name.</summary>
    static string DescribeBinding(string message)
    {
        // A dashboard or portal form posted without its token (a forged cross-site post, or a stale page).
        if (message.Contains("anti-forgery", StringComparison.OrdinalIgnoreCase))
            return "the form's anti-forgery token is missing or invalid; reload the page and try again";
        var bind = System.Text.RegularExpressions.Regex.Match(message, "parameter \"(?:[^\" ]+ )?(?<name>[A-Za-z0-9_]+)\"");
        if (!bind.Success) return "the request could not be read";
        var name = bind.Groups["name"].Value;
        return message.StartsWith("Required", StringComparison.Ordinal) ? $"{name} is required" : $"{name} has a value of the wrong type";
    }

    static string DescribeJson(JsonException e)
    {
        // The serializer's messages name .NET types; the path and our own converter messages are what help.
        var path = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : $" at {e.Path.TrimStart('$', '.')}";
        var own = e.Message.StartsWith("expected", StringComparison.Ordinal) || e.Message.StartsWith('\'');
        var what = own ? e.Message : "malformed JSON or a value of the wrong type";
        return $"invalid request body{path}: {what}";
    }
}
