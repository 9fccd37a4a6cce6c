using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Coffer.Bench;

/// <summary>
/// CPU time counters read before and after the measured phase. CPU spent per request depends far less on what
/// else the shared machine is doing than requests per second do, so it is the figure to compare versions by.
/// </summary>
/// <param name="ServerTicks">utime + stime of the server process, in clock ticks.</param>
/// <param name="MachineBusyTicks">Busy time of all CPUs from /proc/stat, in clock ticks.</param>
/// <param name="MachineAllTicks">Busy plus idle time of all CPUs from /proc/stat, in clock ticks.</param>
/// <param name="Bench">CPU time of this process, all threads.</param>
public readonly record struct CpuSample(long ServerTicks, long MachineBusyTicks, long MachineAllTicks, TimeSpan Bench)
{
    /// <summary>Reads every counter; null, with the reason in <paramref name="error"/>, when /proc cannot be read
    /// (no such process any more, or not Linux).</summary>
    public static CpuSample? TryTake(int serverPid, out string? error)
    {
        error = null;
        try
        {
            var server = ReadProcessTicks(serverPid);
            var (busy, all) = ReadMachineTicks();
            return new CpuSample(server, busy, all, Process.GetCurrentProcess().TotalProcessorTime);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            error = e.Message;
            return null;
        }
    }

    /// <summary>utime + stime from /proc/PID/stat (fields 14 and 15).</summary>
    static long ReadProcessTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Field 2 is the command name in parentheses and may itself hold spaces or ')', so count fields from
        // the last ')': what follows starts with field 3 (state), which puts utime at index 11.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[14 - 3], CultureInfo.InvariantCulture) + long.Parse(fields[15 - 3], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The first line of /proc/stat: "cpu user nice system idle iowait irq softirq steal guest guest_nice".
    /// guest and guest_nice are already counted in user and nice, so they are left out.
    /// </summary>
    static (long Busy, long All) ReadMachineTicks()
    {
        var line = File.ReadLines("/proc/stat").First();
        var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (f[0] != "cpu") throw new FormatException($"unexpected first line of /proc/stat: {line}");
        long T(int i) => long.Parse(f[i], CultureInfo.InvariantCulture);
        var busy = T(1) + T(2) + T(3) + T(6) + T(7) + T(8);
        return (busy, busy + T(4) + T(5));
    }

    /// <summary>Clock ticks per second, the unit of /proc's CPU times (USER_HZ; 100 on every usual Linux).</summary>
    public static readonly long TicksPerSecond = ReadTicksPerSecond();

    static long ReadTicksPerSecond()
    {
        try
        {
            var hz = (long)sysconf(SC_CLK_TCK);
            if (hz > 0) return hz;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        // The kernel ABI fixes USER_HZ at 100 on the architectures .NET runs on; used only if libc cannot say.
        return 100;
    }

    const int SC_CLK_TCK = 2; // from <bits/confname.h>

    // "libc" is mapped by the runtime to the C library's real file name (libc.so.6 on glibc).
    // C long is pointer-sized on Linux, hence nint.
    [DllImport("libc", EntryPoint = "sysconf")]
    static extern nint sysconf(int name);
}

/// <summary>The CPU spent during the measured phase, divided by the requests it completed.</summary>
/// <param name="ServerUs">The server process's CPU per request, in microseconds.</param>
/// <param name="MachineMinusBenchUs">All CPUs' busy time less this process's own CPU, per request: the server,
/// the database and anything else running.</param>
/// <param name="BenchUs">This process's own CPU per request.</param>
/// <param name="MachineBusyPercent">How busy the machine's CPUs were during the phase, 0 to 100.</param>
public sealed record CpuPerRequest(double ServerUs, double MachineMinusBenchUs, double BenchUs, double MachineBusyPercent)
{
    public static CpuPerRequest Between(CpuSample before, CpuSample after, long requests)
    {
        double TicksToUs(long ticks) => ticks * 1_000_000.0 / CpuSample.TicksPerSecond;
        var n = Math.Max(requests, 1);
        var benchUs = (after.Bench - before.Bench).TotalMicroseconds;
        var machineUs = TicksToUs(after.MachineBusyTicks - before.MachineBusyTicks);
        var allTicks = after.MachineAllTicks - before.MachineAllTicks;
        return new CpuPerRequest(
            TicksToUs(after.ServerTicks - before.ServerTicks) / n,
            (machineUs - benchUs) / n,
            benchUs / n,
            allTicks <= 0 ? 0 : 100.0 * (after.MachineBusyTicks - before.MachineBusyTicks) / allTicks);
    }
}
