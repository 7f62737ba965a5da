using System.Text.Json;
using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Soak;

/// <summary>
/// A long multi-channel push with viewers pulling: errors, late fragments and RSS over time (flat once the DVR
/// windows are full). Exits non-zero when anything fails. The CI-sized run of the same engine is SoakTests.
/// </summary>
internal sealed class SoakCommand : IBenchmarkCommand
{
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };

    public string Name => "soak";

    public string Description => "multi-channel live push with viewers for minutes: errors, late fragments, RSS slope once the windows are full";

    public IReadOnlyList<string> Options =>
    [
        "--minutes N       duration (default 10)",
        "--channels N      live channels, each 3 renditions + audio (default 3)",
        "--viewers N       HLS viewers per channel (default 2)",
        "--dvr N           PublishingPoint:DvrWindowSeconds (default 60; the slope is taken after 2 windows, over the second half at least)",
        "--max-slope X     RSS growth allowed once the windows are full, MB/min (default 2)",
        LiveSettings.FsyncOption,
        LiveSettings.SetOption,
        "--output FILE     JSON results (default benchmark-results/soak.json)",
    ];

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var options = new SoakOptions(
            arguments.Int("channels", 3, 1, 100),
            arguments.Int("viewers", 2, 0, 100),
            TimeSpan.FromMinutes(arguments.Int("minutes", 10, 1, 24 * 60)),
            arguments.Int("dvr", 60, 10, 3600),
            arguments.Double("max-slope", 2, 0, 1000))
        {
            ServerSettings = LiveSettings.Server(arguments),
        };
        var output = arguments.String("output") ?? Path.Combine("benchmark-results", "soak.json");
        Console.WriteLine($"soak: {options.Channels} channels, {options.ViewersPerChannel} viewers each, {options.Duration.TotalMinutes:F0} min, DVR window {options.DvrWindowSeconds} s; RSS every {options.SampleEvery.TotalSeconds:F0} s");
        var result = await Live.Soak.RunAsync(options, Console.WriteLine, cancellationToken);
        Console.WriteLine();
        Console.WriteLine(result.Table());
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new
        {
            result.Passed,
            result.Failures,
            result.RssSlopeMegabytesPerMinute,
            result.SlopeFromSeconds,
            options.MaxRssSlopeMegabytesPerMinute,
            options.DvrWindowSeconds,
            Run = LiveSettings.Json(result.Run),
        }, _json), cancellationToken);
        Console.WriteLine($"saved {Path.GetFullPath(output)}");
        return result.Passed ? 0 : 2;
    }
}
