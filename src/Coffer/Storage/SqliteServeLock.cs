namespace Coffer.Storage;

/// <summary>
/// SQLite is the single-node mode: one process serves a database file. A second process started on the same file would
/// queue behind the first one's write lock and answer 503 after 30 s; instead it is refused at start, naming the file
/// and the process holding it. The lock is a POSIX record lock on <c>&lt;file&gt;.lock</c>, held while the process
/// serves and dropped by the kernel when it exits, however it exits, so a killed node never leaves a stale lock.
/// Record locks never conflict within one process, so hosts started side by side in one process (tests' second
/// nodes) share it; <c>coffer verify</c> and other commands do not take it and run beside a serving node.
/// </summary>
public static class SqliteServeLock
{
    static readonly Dictionary<string, (FileStream File, int Holders)> Held = [];

    /// <summary>Takes the lock for this process, or throws with what holds it. Dispose the result when serving stops.</summary>
    public static IDisposable Acquire(string databasePath)
    {
        var path = databasePath + ".lock";
        lock (Held)
        {
            if (Held.TryGetValue(path, out var held))
            {
                Held[path] = (held.File, held.Holders + 1);
                return new Release(path);
            }
            // FileShare.ReadWrite: the runtime's own whole-file lock would also refuse this process's other hosts.
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
            try
            {
                // The runtime offers no record lock on macOS, a development platform here: there the guard is off.
                if (!OperatingSystem.IsMacOS()) file.Lock(0, 1);
            }
            catch (IOException)
            {
                var holder = ReadHolder(file);
                file.Dispose();
                throw new HeldElsewhereException(
                    $"another Coffer process{holder} is serving the SQLite database {databasePath}: SQLite is the single-node mode, " +
                    "so stop that process first, or use PostgreSQL (COFFER_DATABASE=postgres://...) to run several nodes");
            }
            file.SetLength(0);
            var pid = System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
            file.Write(pid);
            file.Flush();
            Held[path] = (file, 1);
            return new Release(path);
        }
    }

    /// <summary>The file is served by another process; the start stops with this message and exit code 2.</summary>
    public sealed class HeldElsewhereException(string message) : Exception(message);

    static string ReadHolder(FileStream file)
    {
        try
        {
            file.Position = 0;
            var text = new StreamReader(file).ReadToEnd().Trim();
            return int.TryParse(text, out var pid) ? $" (pid {pid})" : "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    sealed class Release(string path) : IDisposable
    {
        int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 1) return;
            lock (Held)
            {
                var (file, holders) = Held[path];
                if (holders > 1)
                {
                    Held[path] = (file, holders - 1);
                    return;
                }
                Held.Remove(path);
                file.Dispose();
            }
        }
    }
}
