using System.Globalization;
using System.Text.RegularExpressions;
using PublishingPoint.Benchmarks.Infrastructure;

namespace PublishingPoint.Benchmarks.Serve;

/// <summary>One wrk run and what it printed: requests/s, MB/s and the 99th percentile latency.</summary>
internal sealed partial record WrkRun(string Target, int Connections, double RequestsPerSecond, double MegabytesPerSecond, double P99Milliseconds, long Errors)
{
    /// <summary>The server's CPU time (its process and its children) an answer, in microseconds; null when not measured.</summary>
    public double? ServerMicrosecondsPerAnswer { get; init; }

    /// <summary>How busy the machine's cores were during the run, % of all of them (server, wrk and the rest).</summary>
    public double? MachineBusyPercent { get; init; }

    /// <param name="serverPid">The server whose CPU an answer is measured (nginx: its master, whose workers are its children).</param>
    public static async Task<WrkRun> RunAsync(string target, Uri url, int connections, int seconds, CancellationToken cancellationToken, int? serverPid = null)
    {
        var stdout = Path.GetTempFileName();
        var cpuBefore = serverPid is { } before ? ProcessCpu.Seconds(before) : 0;
        var machineBefore = ProcessCpu.Machine();
        var result = await ProcessRunner.RunCheckedAsync("wrk",
            ["-t2", $"-c{connections}", $"-d{seconds}s", "--timeout", "10s", "--latency", url.ToString()], stdout, cancellationToken);
        var cpu = serverPid is { } after ? ProcessCpu.Seconds(after) - cpuBefore : (double?)null;
        var machineAfter = ProcessCpu.Machine();
        var text = await File.ReadAllTextAsync(stdout, cancellationToken);
        File.Delete(stdout);
        _ = result;
        var rps = double.Parse(Rps().Match(text).Groups[1].Value, CultureInfo.InvariantCulture);
        var transfer = Transfer().Match(text);
        var mb = double.Parse(transfer.Groups[1].Value, CultureInfo.InvariantCulture) * transfer.Groups[2].Value switch
        {
            "GB" => 1024,
            "KB" => 1.0 / 1024,
            "B" => 1.0 / (1024 * 1024),
            _ => 1,
        };
        var p99 = P99().Match(text);
        var latency = double.Parse(p99.Groups[1].Value, CultureInfo.InvariantCulture) * p99.Groups[2].Value switch
        {
            "us" => 0.001,
            "s" => 1000,
            _ => 1,
        };
        var errors = SocketErrors().Matches(text).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        var non2xx = Non2xx().Match(text);
        errors += non2xx.Success ? long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var answers = rps * seconds;
        return new WrkRun(target, connections, rps, mb, latency, errors)
        {
            ServerMicrosecondsPerAnswer = cpu is { } c && answers > 0 ? c / answers * 1e6 : null,
            MachineBusyPercent = (machineAfter.Busy - machineBefore.Busy) / (machineAfter.Total - machineBefore.Total) * 100,
        };
    }

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex Rps();

    [GeneratedRegex(@"Transfer/sec:\s+([0-9.]+)(GB|MB|KB|B)")]
    private static partial Regex Transfer();

    [GeneratedRegex(@"^\s+99%\s+([0-9.]+)(us|ms|s)\s*$", RegexOptions.Multiline)]
    private static partial Regex P99();

    [GeneratedRegex(@"(?:connect|read|write|timeout) (\d+)")]
    private static partial Regex SocketErrors();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex Non2xx();
}
