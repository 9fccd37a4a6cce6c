using Coffer.Wallets;

namespace Coffer.Alerts;

/// <summary>
/// Where a wallet's low-balance alerts go: the tenant's webhooks, e-mail to the merchant's addresses, e-mail to the
/// customer. A wallet names its own (<c>alert_settings.notification_channels</c>, and optionally
/// <c>alert_settings.merchant_emails</c> instead of the tenant's list); a wallet that names none keeps the tenant's
/// default: webhooks, and the merchant's e-mail when the tenant's alert e-mail is on.
/// </summary>
public static class NotificationChannels
{
    public const string Webhook = "webhook";
    public const string MerchantEmail = "merchant_email";
    public const string CustomerEmail = "customer_email";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Webhook, MerchantEmail, CustomerEmail };

    public static bool Webhooks(AlertSettings? settings) => settings?.NotificationChannels is not { } chosen || chosen.Contains(Webhook);

    /// <summary>The merchant's addresses an alert is mailed to (none: the merchant is not mailed).</summary>
    public static IReadOnlyList<string> MerchantRecipients(AlertSettings? settings, bool tenantEmailOn, IReadOnlyList<string>? tenantList) =>
        settings?.NotificationChannels is not { } chosen
            ? tenantEmailOn ? tenantList ?? [] : []
            : chosen.Contains(MerchantEmail) ? settings.MerchantEmails is { Count: > 0 } own ? own : tenantList ?? [] : [];

    public static bool MailsCustomer(AlertSettings? settings) => settings?.NotificationChannels?.Contains(CustomerEmail) == true;

    /// <summary>The checks of a wallet's channels, for the API, the dashboard and the portal alike.</summary>
    public static void Check(Common.Validator v, AlertSettings? settings)
    {
        if (settings?.NotificationChannels is { } chosen)
        {
            foreach (var c in chosen.Where(c => !All.Contains(c)))
                v.Fail($"alert_settings.notification_channels: '{c}' is not one of {string.Join(", ", All)}");
            if (chosen.Distinct().Count() != chosen.Count) v.Fail("alert_settings.notification_channels names a channel twice");
        }
        if (settings?.MerchantEmails is { } emails)
        {
            if (emails.Count > Settings.AlertEmailSettingsApi.MaxRecipients)
                v.Fail($"alert_settings.merchant_emails: at most {Settings.AlertEmailSettingsApi.MaxRecipients} addresses");
            foreach (var e in emails.Where(e => !SmtpPolicy.IsAddress(e))) v.Fail($"alert_settings.merchant_emails: '{e}' is not an email address");
        }
    }
}
