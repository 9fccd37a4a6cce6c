using System.Net;
using System.Net.Sockets;
using Coffer.Settings;
using Coffer.Webhooks;

namespace Coffer.Alerts;

/// <summary>
/// Which SMTP servers a tenant may have Coffer connect to, checked when the setting is saved and again at every
/// connection (a rule tightened later, or a name that now resolves elsewhere, still holds): public addresses only,
/// the mail submission ports only (so the mailer is no port scanner), and TLS unless the operator allows plain text.
/// <c>COFFER_SMTP_ALLOW_PRIVATE</c> lets it reach private and loopback addresses on any port (a local relay or a
/// test server); <c>COFFER_SMTP_ALLOW_PLAINTEXT</c> allows <c>security: none</c>.
/// </summary>
public sealed class SmtpPolicy(Hosting.CofferOptions options)
{
    public static readonly IReadOnlySet<int> Ports = new HashSet<int> { 25, 465, 587, 2525 };
    public const int MaxHostLength = 253;

    /// <summary>A full address, as mail is sent to it: MimeKit alone accepts a bare local part.</summary>
    public static bool IsAddress(string address) =>
        MimeKit.MailboxAddress.TryParse(address, out var parsed) && parsed.Address.Split('@') is [{ Length: > 0 }, { Length: > 0 }];

    bool AllowPrivate => options.SmtpAllowPrivate;
    bool AllowPlaintext => options.SmtpAllowPlaintext;

    /// <summary>Why Coffer will not connect to this server, or null. A host name is judged when connecting, by what it resolves to.</summary>
    public string? Problem(string host, int port, string security)
    {
        if (host.Length > MaxHostLength || Uri.CheckHostName(host) == UriHostNameType.Unknown) return "smtp_host must be a host name or an IP address";
        if (!AllowPrivate && IPAddress.TryParse(host, out var literal) && !PublicAddressGuard.IsPublic(literal))
            return "smtp_host is a private or reserved address; alert email goes to public addresses";
        if (!AllowPrivate && !Ports.Contains(port)) return $"smtp_port must be one of {string.Join(", ", Ports.Order())}";
        if (security == "none" && !AllowPlaintext)
            return "security none (plain text) is accepted only when the operator sets COFFER_SMTP_ALLOW_PLAINTEXT=true; use starttls or ssl";
        return null;
    }

    /// <summary>A TCP connection to the tenant's server, made only to an address the guard allows.</summary>
    public async Task<Socket> ConnectAsync(AlertEmailConfig mail, CancellationToken ct)
    {
        if (Problem(mail.SmtpHost!, mail.SmtpPort, mail.Security) is { } problem) throw new OutboundRefusedException(problem);
        return await new PublicAddressGuard(AllowPrivate).ConnectAsync(mail.SmtpHost!, mail.SmtpPort, ct);
    }

    /// <summary>
    /// An SMTP session with the tenant's server (MailKit over a guarded connection), connected with the tenant's security
    /// and signed in with its credentials: what every mail Coffer sends for a tenant goes through.
    /// </summary>
    public async Task<SmtpSession> OpenAsync(AlertEmailConfig mail, TimeSpan timeout, CancellationToken ct)
    {
        var socket = await ConnectAsync(mail, ct);
        var client = new MailKit.Net.Smtp.SmtpClient { Timeout = (int)timeout.TotalMilliseconds };
        try
        {
            var security = mail.Security switch
            {
                "ssl" => MailKit.Security.SecureSocketOptions.SslOnConnect,
                "none" => MailKit.Security.SecureSocketOptions.None,
                _ => MailKit.Security.SecureSocketOptions.StartTls,
            };
            await client.ConnectAsync(socket, mail.SmtpHost!, mail.SmtpPort, security, ct);
            if (mail.Username is not null) await client.AuthenticateAsync(mail.Username, mail.Password ?? "", ct);
            return new SmtpSession(client, socket);
        }
        catch
        {
            client.Dispose();
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>An open SMTP session and the connection under it, closed together.</summary>
public sealed class SmtpSession(MailKit.Net.Smtp.SmtpClient client, Socket socket) : IDisposable
{
    public MailKit.Net.Smtp.SmtpClient Client => client;

    public void Dispose()
    {
        client.Dispose();
        socket.Dispose();
    }
}
