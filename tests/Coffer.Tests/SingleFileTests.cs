using System.Diagnostics;
using System.Text;

namespace Coffer.Tests;

/// <summary>
/// The one-file build the README shows: published here with that command, then started with no .NET on the path and
/// no runtime beside it, on SQLite.
/// </summary>
public sealed class SingleFileTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("coffer-single-file-").FullName;
    readonly List<Process> _processes = [];

    [Fact]
    public async Task ThePublishedExecutableServesOnSqliteWithNoDotnetBesideIt()
    {
        var output = Path.Combine(_dir, "out");
        // The README's command; the build's own files go to a folder of the test's, away from the suite's build. Its
        // packages come from this machine's package folder only (./test.sh restores the runtime packs beforehand), so
        // the test reaches no network.
        var packages = System.Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set ? set
            : Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var publish = await Run("dotnet", _dir, new(),
            "publish", Path.Combine(CofferProcess.Repository(), "src", "Coffer", "Coffer.csproj"), "-c", "Release", "-r", "linux-x64", "--self-contained",
            "-p:PublishSingleFile=true", "-o", output, "--artifacts-path", Path.Combine(_dir, "artifacts"), "--source", packages, "-v", "quiet", "-nologo");
        Assert.True(publish.Code == 0, publish.Output);
        var executable = Path.Combine(output, "coffer");
        Assert.True(File.Exists(executable), $"no {executable}: {string.Join(", ", Directory.GetFiles(output).Select(Path.GetFileName))}");
        // One file: no assemblies and no native libraries beside it (debug symbols may be).
        Assert.Equal(["coffer"], Directory.GetFiles(output).Select(Path.GetFileName).Where(f => !f!.EndsWith(".pdb")).Order());

        // Started from a folder of its own with a PATH that has no dotnet and no DOTNET_ROOT: it carries its runtime.
        var run = Path.Combine(_dir, "run");
        Directory.CreateDirectory(run);
        File.Copy(executable, Path.Combine(run, "coffer"));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(run, "coffer"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var key = "sk_single_" + Guid.NewGuid().ToString("N");
        var environment = new Dictionary<string, string> { ["COFFER_API_KEY"] = key, ["PATH"] = run, ["COFFER_WORKERS"] = "off" };
        var port = CofferProcess.FreePort();
        var log = new StringBuilder();
        var start = new ProcessStartInfo(Path.Combine(run, "coffer"), $"--urls http://127.0.0.1:{port}")
        {
            WorkingDirectory = run, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.Environment.Clear();
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var server = Process.Start(start)!;
        _processes.Add(server);
        server.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        server.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();

        using var api = await CofferProcess.ApiWhenReadyAsync(server, port, key);
        // The runtime it runs on is the one inside it, not an installed one (which this machine has).
        var mapped = File.ReadAllLines($"/proc/{server.Id}/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(5).FirstOrDefault())
            .OfType<string>().Distinct().ToList();
        Assert.Contains(mapped, p => p.EndsWith("/run/coffer"));
        Assert.DoesNotContain(mapped, p => p.Contains("/shared/Microsoft.NETCore.App/") || p.Contains("/shared/Microsoft.AspNetCore.App/"));
        var customer = (await api.Post("/v1/customers", new { external_id = "single-1", name = "Ada" })).Ok(201).S("id");
        var wallet = (await api.Post("/v1/wallets", new { customer_id = customer, currency = "usd", initial_credits_to_load = "10" })).Ok().S("id");
        (await api.Post($"/v1/wallets/{wallet}/debit", new { credits = "2.5", idempotency_key = "single-debit" })).Ok();
        Assert.Equal(7.5m, (await api.Get($"/v1/wallets/{wallet}")).Ok().D("credit_balance"));
        // The pages and the API reference come from inside the executable too.
        using (var plain = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") })
        {
            Assert.Contains("Coffer API", await plain.GetStringAsync("/docs"));
            Assert.Contains("\"openapi\"", await plain.GetStringAsync("/openapi/v1.json"));
        }
        // Its embedded SQLite file is the default one, in the folder it was started from.
        Assert.True(File.Exists(Path.Combine(run, "coffer.db")), log.ToString());

        var verify = await Run(Path.Combine(run, "coffer"), run, environment, "verify");
        Assert.True(verify.Code == 0 && verify.Output.Contains("OK"), verify.Output);
    }

    static async Task<(int Code, string Output)> Run(string file, string directory, Dictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        if (environment.Count > 0)
        {
            start.Environment.Clear();
            foreach (var (name, value) in environment) start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    public void Dispose()
    {
        CofferProcess.Stop(_processes);
        Directory.Delete(_dir, recursive: true);
    }
}
