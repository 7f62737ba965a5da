using System.Globalization;
using System.Text;

namespace PublishingPoint.Benchmarks.Live;

/// <summary>A soak: channels and viewers for a while, and the RSS slope allowed once the DVR windows are full.</summary>
internal sealed record SoakOptions(int Channels, int ViewersPerChannel, TimeSpan Duration, int DvrWindowSeconds, double MaxRssSlopeMegabytesPerMinute)
{
    public TimeSpan SampleEvery { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where the encoded input is kept between runs.</summary>
    public string InputFolder { get; init; } = LiveLadder.DefaultFolder;

    /// <summary>Extra server settings ("--PublishingPoint:FsyncArchive=false").</summary>
    public IReadOnlyList<string> ServerSettings { get; init; } = [];

    /// <summary>Extra environment of the server process (GC settings, for instance).</summary>
    public IReadOnlyDictionary<string, string> ServerEnvironment { get; init; } = new Dictionary<string, string>();
}

/// <summary>What a soak saw, and whether it passed: no errors, no late fragment, no encoder stall, RSS flat once the windows are full.</summary>
internal sealed record SoakResult(SoakOptions Options, LiveRunResult Run, double WindowsFullSeconds, double SlopeFromSeconds, double RssSlopeMegabytesPerMinute, IReadOnlyList<string> Failures)
{
    public bool Passed => Failures.Count == 0;

    public string Table()
    {
        var inv = CultureInfo.InvariantCulture;
        var r = Run;
        var text = new StringBuilder();
        text.AppendLine(inv, $"soak: {r.Channels} channels x (3 renditions + audio), {r.Viewers} viewers, {r.Seconds:F0} s, DVR window {Options.DvrWindowSeconds} s");
        text.AppendLine(inv, $"{"time s",8} {"RSS MB",8}");
        foreach (var (seconds, rss) in r.RssSamples)
        {
            text.AppendLine(inv, $"{seconds,8:F0} {rss / 1e6,8:F1}{(seconds >= SlopeFromSeconds ? "" : "   (windows filling)")}");
        }

        text.AppendLine(new string('-', 60));
        text.AppendLine(inv, $"segments fetched        {r.SegmentsFetched} ({r.BytesFetched / 1e6:F0} MB)");
        text.AppendLine(inv, $"errors                  {r.SegmentErrors} segment, {r.PlaylistErrors} playlist (non-2xx or failed)");
        text.AppendLine(inv, $"late fragments          {r.LateFragments} of {r.FragmentsObserved} (worst {r.WorstLatenessSeconds:F2} s beyond the usual delay)");
        text.AppendLine(inv, $"slow segments           {r.SlowSegments} (arrived later than a player would play them; longest {r.WorstDeliverySeconds:F2} s)");
        text.AppendLine(inv, $"encoders                {r.EncoderStalls} fell behind real time, {r.EncoderExits} exited early");
        text.AppendLine(inv, $"server CPU              {r.CpuPercent:F1} % of one core ({r.CpuPercentPerChannel:F1} % per channel)");
        text.AppendLine(inv, $"RSS                     idle {r.IdleRssBytes / 1e6:F0} MB, end {r.FinalRssBytes / 1e6:F0} MB; fragments in memory {r.BytesInMemory / 1e6:F1} MB");
        text.AppendLine(inv, $"RSS slope after {SlopeFromSeconds:F0} s  {RssSlopeMegabytesPerMinute:F2} MB/min (limit {Options.MaxRssSlopeMegabytesPerMinute:F1}; two windows in, the second half of the run at least)");
        text.AppendLine(inv, $"RSS slope after {WindowsFullSeconds:F0} s  {r.RssSlopeMegabytesPerMinute(WindowsFullSeconds):F2} MB/min (two windows in, while the caches settle: for information)");
        var lastThird = r.Seconds * 2 / 3;
        text.AppendLine(inv, $"RSS slope, last third  {r.RssSlopeMegabytesPerMinute(lastThird):F2} MB/min after {lastThird:F0} s (for information)");
        text.AppendLine(Passed ? "PASS" : "FAIL: " + string.Join("; ", Failures));
        return text.ToString();
    }
}

/// <summary>The soak engine, shared by the <c>soak</c> benchmark and the CI-sized SoakTests.</summary>
internal static class Soak
{
    public static async Task<SoakResult> RunAsync(SoakOptions options, Action<string>? log, CancellationToken cancellationToken)
    {
        var input = await LiveLadder.EnsureAsync(options.InputFolder, cancellationToken);
        await using var server = await LiveServer.StartAsync(
            [$"--PublishingPoint:DvrWindowSeconds={options.DvrWindowSeconds}", .. options.ServerSettings], cancellationToken, options.ServerEnvironment);
        var runOptions = new LiveRunOptions(options.Channels, options.ViewersPerChannel, options.Duration) { SampleEvery = options.SampleEvery };
        var run = await LiveRun.RunAsync(server, input, runOptions, log, cancellationToken);

        // "Flat once the windows are full": from two DVR windows after the warm-up on, and over the second half of the run at
        // least. The caches that fill with the windows settle in a few minutes, and so does the GC's committed memory
        // around them (docs/benchmarks.md: 10-minute runs measured from 126 s failed on that settling while 20-minute
        // ones passed, the live heap flat from the third minute); a leak grows through the second half as well.
        var windowsFull = runOptions.WarmUp.TotalSeconds + (2.0 * options.DvrWindowSeconds);
        var from = Math.Max(windowsFull, options.Duration.TotalSeconds / 2);
        var slope = run.RssSlopeMegabytesPerMinute(from);
        var failures = new List<string>();
        if (run.SegmentErrors + run.PlaylistErrors > 0)
        {
            failures.Add($"{run.SegmentErrors} segment and {run.PlaylistErrors} playlist errors");
        }

        if (run.LateFragments > 0)
        {
            failures.Add($"{run.LateFragments} late fragments");
        }

        if (run.SlowSegments > 0)
        {
            failures.Add($"{run.SlowSegments} segments arrived later than a player would play them");
        }

        if (run.EncoderStalls + run.EncoderExits > 0)
        {
            failures.Add($"{run.EncoderStalls} encoders fell behind, {run.EncoderExits} exited early");
        }

        if (run.RssSamples.Count(s => s.Seconds >= from) < 3)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"too short to judge memory: fewer than 3 RSS samples after {from:F0} s"));
        }
        else if (slope > options.MaxRssSlopeMegabytesPerMinute)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"RSS grows {slope:F2} MB/min once the windows are full (limit {options.MaxRssSlopeMegabytesPerMinute:F1})"));
        }

        failures.AddRange(run.Problems.Take(10));
        return new SoakResult(options, run, windowsFull, from, slope, failures.Distinct().ToList());
    }
}
