using System.Net;
using System.Net.Sockets;

namespace Coffer.Tests;

/// <summary>Where the built server is and a free loopback port, for tests that run Coffer as a real process.</summary>
public static class CofferProcess
{
    public static string Dll()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        return Path.Combine(Repository(), "src", "Coffer", "bin", configuration, "net10.0", "Coffer.dll");
    }

    /// <summary>The checkout the tests were built from: the folder of Coffer.slnx above the test binaries.</summary>
    public static string Repository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Coffer.slnx")))
                return dir.FullName;
        throw new InvalidOperationException("no Coffer.slnx above the test binaries");
    }

    /// <summary>
    /// Starts the built server with <paramref name="arguments"/> and <paramref name="environment"/>; every line it writes,
    /// to stdout (<c>false</c>) or stderr (<c>true</c>), goes to <paramref name="line"/> as it comes.
    /// </summary>
    public static System.Diagnostics.Process Start(string arguments, IReadOnlyDictionary<string, string> environment, Action<bool, string>? line = null)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", $"\"{Dll()}\" {arguments}") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var process = System.Diagnostics.Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) line?.Invoke(false, e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) line?.Invoke(true, e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Whether the node behind <paramref name="http"/> answers ready; false while it cannot be reached yet.</summary>
    public static async Task<bool> ReadyAsync(HttpClient http)
    {
        try
        {
            return (await http.GetAsync("/health/ready")).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>An API client of the process serving on <paramref name="port"/>, once it answers ready (within a minute).</summary>
    public static async Task<HttpClient> ApiWhenReadyAsync(System.Diagnostics.Process server, int port, string apiKey)
    {
        var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        api.DefaultRequestHeaders.Add("x-api-key", apiKey);
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (!await ReadyAsync(api))
        {
            Assert.False(server.HasExited, "the server exited");
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(60), "the server did not start");
            await Task.Delay(100);
        }
        return api;
    }

    /// <summary>Kills whichever of a test's processes still run and waits for them.</summary>
    public static void Stop(IEnumerable<System.Diagnostics.Process> processes)
    {
        foreach (var p in processes)
        {
            try
            {
                if (!p.HasExited) p.Kill();
                p.WaitForExit(10_000);
            }
            catch (InvalidOperationException) { }
            p.Dispose();
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
