using System.Net;
using System.Net.Sockets;

namespace Coffer.Tests;

/// <summary>Where the built server is and a free loopback port, for tests that run Coffer as a real process.</summary>
public static class CofferProcess
{
    public static string Dll()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Coffer.slnx")))
                return Path.Combine(dir.FullName, "src", "Coffer", "bin", configuration, "net10.0", "Coffer.dll");
        throw new InvalidOperationException("no Coffer.slnx above the test binaries");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
