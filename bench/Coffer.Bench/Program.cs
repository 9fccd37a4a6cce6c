using System.Diagnostics;
using System.Globalization;
using Coffer.Bench;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(Options.Usage + "\nBaselines and sizes:\n" + Baselines.Usage);
    return 0;
}
if (args is ["sqlite-loop", var loopFile, var loopSeconds, var loopWallets])
    return await Baselines.SqliteLoopAsync(loopFile, int.Parse(loopSeconds, CultureInfo.InvariantCulture), int.Parse(loopWallets, CultureInfo.InvariantCulture));
if (args is ["sizes", "sqlite" or "postgres", var target] && args[1] is var sizesKind)
    return await Baselines.SizesAsync(sizesKind, target);
var options = Options.Parse(args, out var argError);
if (options is null)
{
    Console.Error.WriteLine($"error: {argError}\n\n{Options.Usage}");
    return 2;
}

// Read the CPU counters once up front, so a wrong pid or a missing /proc fails before any load is sent.
if (options.ServerPid is { } serverPid && CpuSample.TryTake(serverPid, out var pidError) is null)
{
    Console.Error.WriteLine($"error: --server-pid {serverPid}: cannot read its CPU time from /proc ({pidError})");
    return 2;
}

using var http = Load.CreateClient(options);
var runId = $"{DateTimeOffset.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid():N}"[..27];

Console.WriteLine($"== {options.Label}: {options.Mode}, {options.Clients} clients" +
                  (options.Mode == "balance" ? $" ({options.Readers} reading)" : "") + (options.Mode == "batch" ? $", {options.BatchSize} debits per batch" : "") +
                  $", {options.Seconds}s (+{options.Warmup}s warm-up), {options.Wallets} wallet(s), {options.Url}");

string[] wallets;
var setup = Stopwatch.StartNew();
try
{
    wallets = await Load.SetupAsync(http, options, runId);
}
catch (SetupException e)
{
    Console.Error.WriteLine($"setup failed: {e.Message}");
    return 3;
}
Console.WriteLine($"setup: {wallets.Length} customer(s) and wallet(s) with {options.Initial} credits each in {setup.Elapsed.TotalSeconds:F1}s");

decimal prefilled = 0m;
if (options.PrefillLots > 0 || options.PrefillEntries > 0)
{
    var fill = Stopwatch.StartNew();
    try
    {
        // A prefill batch of 8,000 operations on one wallet is one long transaction, not a request under load.
        using var patient = Load.CreateClient(options with { TimeoutSeconds = 600 });
        prefilled = await Load.PrefillAsync(patient, options, wallets[0], runId);
    }
    catch (SetupException e)
    {
        Console.Error.WriteLine($"setup failed: {e.Message}");
        return 3;
    }
    Console.WriteLine($"prefill: {options.PrefillLots} expiring lots and {options.PrefillEntries} debits in {fill.Elapsed.TotalSeconds:F1}s " +
                      $"({(options.PrefillLots + options.PrefillEntries) / fill.Elapsed.TotalSeconds:F0} operations/s through the batch API)");
}
var load = new Load(http, options, wallets, runId, prefilled);
if (options.Warmup > 0)
{
    var warm = await load.RunAsync(TimeSpan.FromSeconds(options.Warmup), measured: false);
    Console.WriteLine($"warm-up: {warm.Requests} requests in {warm.Elapsed.TotalSeconds:F1}s");
}
// CPU is sampled right around the measured phase only: no request is in flight before or after it, since
// RunAsync waits for every client, so the deltas belong to the phase's requests (plus whatever else the
// machine did meanwhile, which only the machine-wide figure includes).
string? cpuError = null;
CpuSample? cpuBefore = options.ServerPid is { } pid ? CpuSample.TryTake(pid, out cpuError) : null;
var phase = await load.RunAsync(TimeSpan.FromSeconds(options.Seconds), measured: true);
CpuSample? cpuAfter = cpuBefore is not null ? CpuSample.TryTake(options.ServerPid!.Value, out cpuError) : null;
// The get mode only reads: its figures are the readers'. In balance mode CPU is counted per debit, the readers' share included.
var result = options.Mode == "get" ? phase.Reads! : phase;
CpuPerRequest? cpu = cpuBefore is { } start && cpuAfter is { } end ? CpuPerRequest.Between(start, end, result.Requests) : null;
// Most likely the server died since the start; the request errors below will say so.
if (options.ServerPid is not null && cpu is null) Console.WriteLine($"WARNING: cannot read the server's CPU time ({cpuError})");
var reconciled = await load.ReconcileAsync();
var check = await load.CheckAsync();

var latencies = result.LatenciesMs;
Array.Sort(latencies);
var throughput = result.Requests / result.Elapsed.TotalSeconds;
var okRps = result.Succeeded / result.Elapsed.TotalSeconds;

var unit = options.Mode == "get" ? "reads" : "debits";
Console.WriteLine($"{unit}:     {result.Requests} in {result.Elapsed.TotalSeconds:F2}s ({result.Succeeded} succeeded, {result.Requests - result.Succeeded} failed)" +
                  (options.Mode == "batch" ? $", {result.LatenciesMs.Length} batch requests" : ""));
Console.WriteLine($"throughput: {throughput:F1} {unit}/s ({okRps:F1} successful)");
Console.WriteLine($"latency ms: p50 {Percentile(latencies, 0.50):F2}  p90 {Percentile(latencies, 0.90):F2}  " +
                  $"p99 {Percentile(latencies, 0.99):F2}  max {(latencies.Length == 0 ? 0 : latencies[^1]):F2}");
if (cpu is not null)
    Console.WriteLine($"cpu/request: server {cpu.ServerUs:F0} µs, machine minus bench {cpu.MachineMinusBenchUs:F0} µs, " +
                      $"bench {cpu.BenchUs:F0} µs (machine {cpu.MachineBusyPercent:F0}% busy, {Environment.ProcessorCount} CPUs)");
if (phase.Reads is { } reads && options.Mode == "balance")
{
    var readLatencies = reads.LatenciesMs;
    Array.Sort(readLatencies);
    Console.WriteLine($"reads:      {reads.Requests} balance reads, {reads.Requests / reads.Elapsed.TotalSeconds:F1}/s, {reads.Requests - reads.Succeeded} failed; " +
                      $"latency ms p50 {Percentile(readLatencies, 0.50):F2}  p99 {Percentile(readLatencies, 0.99):F2}  max {(readLatencies.Length == 0 ? 0 : readLatencies[^1]):F2}");
}
if (result.Errors.Count == 0) Console.WriteLine("errors:     none");
else
{
    Console.WriteLine("errors:");
    foreach (var (kind, count) in result.Errors.OrderByDescending(e => e.Value))
        Console.WriteLine($"  {kind,-28} {count}   e.g. {load.Sample(kind)}");
}
if (load.Replays > 0) Console.WriteLine($"WARNING: {load.Replays} responses were idempotent replays although every key was new");
if (reconciled.Uncertain > 0)
    Console.WriteLine($"uncertain:  {reconciled.Uncertain} requests failed without a definite answer; retried with their keys: " +
                      $"{reconciled.Applied} applied, {reconciled.Unresolved} still unresolved");
Console.WriteLine(check.Ok
    ? $"balance check: OK ({check.Wallets} wallet(s); {check.Debited} credits debited in total)"
    : $"balance check: MISMATCH in {check.Mismatches.Count} of {check.Wallets} wallet(s)");
foreach (var m in check.Mismatches.Take(10)) Console.WriteLine($"  {m}");

if (options.SummaryFile is { } file)
{
    string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
    string F0(double? v) => v is { } x ? x.ToString("F0", CultureInfo.InvariantCulture) : "-";
    var errors = result.Errors.Count == 0 ? "-" : string.Join(",", result.Errors.OrderByDescending(e => e.Value).Select(e => $"{e.Key}:{e.Value}"));
    var line = string.Join('\t', options.Label, options.Wallets, options.Clients, options.Seconds, result.Requests,
        result.Requests - result.Succeeded, F(throughput), F(Percentile(latencies, 0.50)), F(Percentile(latencies, 0.90)),
        F(Percentile(latencies, 0.99)), F(latencies.Length == 0 ? 0 : latencies[^1]), check.Ok ? "OK" : "MISMATCH", errors,
        F0(cpu?.ServerUs), F0(cpu?.MachineMinusBenchUs), F0(cpu?.BenchUs), F0(cpu?.MachineBusyPercent));
    await File.AppendAllTextAsync(file, line + "\n");
    if (phase.Reads is { } r && options.Mode == "balance")
    {
        var rl = r.LatenciesMs;
        Array.Sort(rl);
        var readErrors = r.Errors.Count == 0 ? "-" : string.Join(",", r.Errors.Select(e => $"{e.Key}:{e.Value}"));
        await File.AppendAllTextAsync(file, string.Join('\t', options.Label + " reads", options.Wallets, options.Readers, options.Seconds, r.Requests,
            r.Requests - r.Succeeded, F(r.Requests / r.Elapsed.TotalSeconds), F(Percentile(rl, 0.50)), F(Percentile(rl, 0.90)), F(Percentile(rl, 0.99)),
            F(rl.Length == 0 ? 0 : rl[^1]), "-", readErrors, "-", "-", "-", "-") + "\n");
    }
}
return check.Ok ? 0 : 1;

static double Percentile(double[] sorted, double p) =>
    sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
