using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace Coffer.Secrets;

/// <summary>
/// Seals ASP.NET Core's data-protection master keys before <see cref="Pages.DatabaseKeyRepository"/> stores them: the
/// framework hands over each element it marks <c>requiresEncryption</c> and keeps what comes back inside an
/// <c>encryptedSecret</c> element naming <see cref="SealedXmlDecryptor"/>.
/// </summary>
public sealed class SealedXmlEncryptor(SecretBox box) : IXmlEncryptor
{
    public EncryptedXmlInfo Encrypt(XElement plaintextElement) =>
        new(new XElement(SealedXml.SealedName, box.Seal(plaintextElement.ToString(SaveOptions.DisableFormatting))), typeof(SealedXmlDecryptor));
}

/// <summary>The framework creates this by its type name, with the application's services.</summary>
public sealed class SealedXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement) => XElement.Parse(services.GetRequiredService<SecretBox>().Open(encryptedElement.Value));
}

public static class SealedXml
{
    public static readonly XName SealedName = "sealed";
    static readonly XNamespace DataProtection = "http://schemas.asp.net/2015/03/dataProtection";

    /// <summary>
    /// Every secret of a stored key through <paramref name="f"/>: the sealed values, and a master key written in clear
    /// (before sealing existed), which is wrapped the way the framework wraps it when <paramref name="f"/> seals it.
    /// </summary>
    public static string Map(string xml, Func<string, string> f)
    {
        var root = XElement.Parse(xml);
        foreach (var s in root.Descendants(SealedName).ToList()) s.Value = f(s.Value);
        foreach (var plain in root.DescendantsAndSelf().Where(e => (string?)e.Attribute(DataProtection + "requiresEncryption") == "true").ToList())
        {
            var text = plain.ToString(SaveOptions.DisableFormatting);
            var mapped = f(text);
            if (mapped != text)
                plain.ReplaceWith(new XElement(DataProtection + "encryptedSecret",
                    new XAttribute("decryptorType", typeof(SealedXmlDecryptor).AssemblyQualifiedName!), new XElement(SealedName, mapped)));
        }
        return root.ToString(SaveOptions.DisableFormatting);
    }
}
