using System.Diagnostics;

namespace Coffer.Tests;

/// <summary>
/// A throwaway PostgreSQL cluster of one test's own, on a free loopback port, for the tests that stop, kill or promote
/// the database under load (the suite's shared server must stay up for everyone else). Debian's binaries, run as the
/// <c>postgres</c> user when the tests run as root, as ./test.sh does on a fresh machine.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    public int Port { get; }
    public string DataDir { get; }
    readonly string _dir;

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres";

    PostgresCluster(string dir, int port)
    {
        _dir = dir;
        DataDir = Path.Combine(dir, "data");
        Port = port;
    }

    static string Bin(string tool)
    {
        var versions = Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql") : [];
        var newest = versions.Where(v => File.Exists(Path.Combine(v, "bin", "initdb"))).OrderBy(v => int.Parse(Path.GetFileName(v))).LastOrDefault()
            ?? throw new InvalidOperationException("no PostgreSQL under /usr/lib/postgresql: run ./test.sh, which installs it");
        return Path.Combine(newest, "bin", tool);
    }

    static bool Root => Environment.UserName == "root";

    /// <summary>Runs a PostgreSQL tool (as <c>postgres</c> under root) to its end; a failure throws with its output.</summary>
    static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(Root ? "runuser" : Bin(tool)) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Root)
            foreach (var a in new[] { "-u", "postgres", "--", Bin(tool) }) start.ArgumentList.Add(a);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000)) process.Kill();
        var output = stdout.Result + stderr.Result;
        if (process.ExitCode != 0) throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} failed ({process.ExitCode}): {output}");
        return output;
    }

    static PostgresCluster NewDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "coffer-pg-" + Guid.NewGuid().ToString("N")[..12]);
        if (Root)
        {
            // The postgres user makes the folder itself, so it owns what initdb and the server write there.
            using var mkdir = Process.Start("runuser", ["-u", "postgres", "--", "mkdir", "-m", "700", "-p", dir])!;
            mkdir.WaitForExit();
        }
        else
        {
            Directory.CreateDirectory(dir);
        }
        return new PostgresCluster(dir, CofferProcess.FreePort());
    }

    /// <summary>
    /// A new primary, started. Commits are durable as PostgreSQL makes them (<c>synchronous_commit</c> on); fsync is off,
    /// which only an operating-system crash (never one of these tests) could tell apart.
    /// </summary>
    public static PostgresCluster StartNew(params string[] settings)
    {
        var cluster = NewDirectory();
        Run("initdb", "-D", cluster.DataDir, "-U", "postgres", "-A", "trust", "--no-sync");
        cluster.Configure(settings);
        cluster.Start();
        return cluster;
    }

    /// <summary>A streaming replica of <paramref name="primary"/>, copied with pg_basebackup and started.</summary>
    public static PostgresCluster StartReplicaOf(PostgresCluster primary, params string[] settings)
    {
        var cluster = NewDirectory();
        Run("pg_basebackup", "-h", "127.0.0.1", "-p", primary.Port.ToString(), "-U", "postgres", "-D", cluster.DataDir,
            "-X", "stream", "-R", "--no-sync", "--checkpoint=fast");
        cluster.Configure(settings);
        cluster.Start();
        return cluster;
    }

    void Configure(string[] settings)
    {
        var lines = new List<string>
        {
            $"port = {Port}", "listen_addresses = '127.0.0.1'", $"unix_socket_directories = '{_dir}'", "fsync = off", "max_connections = 200",
        };
        lines.AddRange(settings);
        // Appended as the postgres user's file: the server reads postgresql.conf top to bottom, the last setting wins.
        var conf = Path.Combine(DataDir, "postgresql.conf");
        if (Root)
        {
            var temp = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".conf");
            File.WriteAllLines(temp, lines);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.UserWrite);
            using var append = Process.Start("runuser", ["-u", "postgres", "--", "sh", "-c", $"cat '{temp}' >> '{conf}'"])!;
            append.WaitForExit();
            File.Delete(temp);
        }
        else
        {
            File.AppendAllLines(conf, lines);
        }
    }

    public void Start() => Run("pg_ctl", "-D", DataDir, "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "60", "start");

    /// <summary><c>pg_ctl stop -m fast</c> or <c>-m immediate</c>: sessions are ended; immediate skips the checkpoint (crash recovery at start).</summary>
    public void Stop(string mode) => Run("pg_ctl", "-D", DataDir, "-m", mode, "-w", "-t", "60", "stop");

    public void Promote() => Run("pg_ctl", "-D", DataDir, "-w", "-t", "60", "promote");

    /// <summary>SIGKILL to the postmaster and every server process at once: the machine's death, as far as clients can tell.</summary>
    public void Kill()
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(DataDir, "postmaster.pid")).First());
        var children = Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(n => n!.All(char.IsAsciiDigit)).Select(int.Parse!)
            .Where(pid => ParentOf(pid) == postmaster).ToList();
        foreach (var pid in children.Prepend(postmaster))
        {
            try { Process.GetProcessById(pid).Kill(); }
            catch (ArgumentException) { }
            catch (InvalidOperationException) { }
        }
    }

    static int ParentOf(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) state ppid ...", comm may hold spaces, so read after its closing parenthesis.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
        }
        catch (IOException)
        {
            return -1;
        }
    }

    public void Dispose()
    {
        try { Run("pg_ctl", "-D", DataDir, "-m", "immediate", "stop"); }
        catch (InvalidOperationException) { }
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
