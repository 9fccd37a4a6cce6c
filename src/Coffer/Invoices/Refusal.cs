using Coffer.Common;
using Coffer.Wallets;

namespace Coffer.Invoices;

/// <summary>
/// Why a money-in operation (a purchase, an invoice change, a payment, a refund) changed nothing: the stable code
/// from <see cref="ErrorCodes"/> clients branch on, and a sentence for people. The operations decide it; only the
/// HTTP edge turns it into an <see cref="ApiError"/> (<see cref="RefusalHttp.ToHttp"/>).
/// </summary>
public sealed record Refusal(string Code, string Message, object? Details = null)
{
    public static Refusal Invalid(string message) => new(ErrorCodes.ValidationFailed, message);
    public static Refusal NotFound(string what) => new(ErrorCodes.NotFound, $"{what} not found");

    /// <summary>A wallet's refusal of an operation, in the words the wallet API answers it with.</summary>
    public static Refusal OfWallet(WalletRefusal why) => WalletApi.Refusal(why) is var e ? new(e.Code, e.Message, e.Envelope.Error.Details) : null!;
}
