using System.Security.Cryptography;
using System.Text;
using Coffer.Common;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;

namespace Coffer.Pages;

/// <summary>
/// The headers every answer carries, so no page can be framed, sniffed into another type, or run a script it
/// did not ship; and, when the public URL is https, cookies that never travel in clear and HSTS.
/// Scripts are allowed by hash only (the one inline script is the top-up dialog's). Styles are allowed inline
/// ('unsafe-inline' for style-src): every page carries its stylesheet in a &lt;style&gt; element, and styles
/// cannot run code. The API reference at /docs loads its own scripts and is left without a CSP.
/// </summary>
public static class SecurityHeaders
{
    static readonly string[] InlineScripts = [Dashboard.WalletPage.DialogScript];

    public static readonly string ContentSecurityPolicy =
        "default-src 'none'; " +
        $"script-src {string.Join(' ', InlineScripts.Select(s => $"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(s)))}'"))}; " +
        "style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'";

    public static readonly TimeSpan HstsMaxAge = TimeSpan.FromDays(365);

    /// <summary>Marks every cookie Coffer sets (sessions and antiforgery) Secure when the public URL is https.</summary>
    public static void AddTo(IServiceCollection services)
    {
        services.AddSingleton<IPostConfigureOptions<CookieAuthenticationOptions>>(sp => new PostConfigureOptions<CookieAuthenticationOptions>(null, o =>
        {
            if (PublicUrl.IsHttps(sp.GetRequiredService<Hosting.CofferOptions>())) o.Cookie.SecurePolicy = CookieSecurePolicy.Always;
        }));
        services.AddSingleton<IPostConfigureOptions<AntiforgeryOptions>>(sp => new PostConfigureOptions<AntiforgeryOptions>(null, o =>
        {
            if (PublicUrl.IsHttps(sp.GetRequiredService<Hosting.CofferOptions>())) o.Cookie.SecurePolicy = CookieSecurePolicy.Always;
        }));
    }

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app)
    {
        var https = PublicUrl.IsHttps(app.ApplicationServices.GetRequiredService<Hosting.CofferOptions>());
        var hsts = $"max-age={(long)HstsMaxAge.TotalSeconds}";
        // Set as the answer starts, so that error pages, whose headers are cleared on the way, carry them too.
        return app.Use((http, next) =>
        {
            http.Response.OnStarting(() => { Set(http); return Task.CompletedTask; });
            return next(http);
        });

        void Set(HttpContext http)
        {
            var headers = http.Response.Headers;
            if (!http.Request.Path.StartsWithSegments("/docs")) headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XFrameOptions = "DENY";
            headers.XContentTypeOptions = "nosniff";
            // Portal links carry their token in the query string: never pass a URL on to another site.
            headers["Referrer-Policy"] = "no-referrer";
            if (https) headers.StrictTransportSecurity = hsts;
        }
    }
}
