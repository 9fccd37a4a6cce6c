using System.Xml.Linq;
using Coffer.Storage;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Coffer.Pages;

/// <summary>
/// Keeps ASP.NET Core's data-protection keys in the database, so a session cookie made on one node is read
/// on another and survives a restart. The interface is synchronous; key reads and writes are rare.
/// </summary>
public sealed class DatabaseKeyRepository(Database db) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var c = db.OpenAsync().GetAwaiter().GetResult();
        return c.QueryAsync(null, "SELECT xml FROM data_protection_keys", r => XElement.Parse(r.Str("xml"))).GetAwaiter().GetResult();
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        var scope = db.BeginWriteAsync().GetAwaiter().GetResult();
        try
        {
            scope.Connection.ExecAsync(scope.Transaction,
                "INSERT INTO data_protection_keys (friendly_name, xml) VALUES (@n, @x) ON CONFLICT (friendly_name) DO NOTHING",
                ("n", friendlyName), ("x", element.ToString(SaveOptions.DisableFormatting))).GetAwaiter().GetResult();
            scope.CommitAsync().GetAwaiter().GetResult();
        }
        finally
        {
            scope.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
