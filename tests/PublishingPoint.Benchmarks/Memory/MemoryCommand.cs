using System.Globalization;
using System.Text.Json;
using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Memory;

/// <summary>
/// Working set per channel against the fragment bytes the DVR window holds: push N channels for longer than the
/// window (so it is full and sliding), then read the server's RSS and the sum of tracks[].bytesInMemory.
/// </summary>
internal sealed class MemoryCommand : IBenchmarkCommand
{
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };

    public string Name => "memory";

    public string Description => "server RSS per channel against the fragment bytes held in the DVR window (1.0 is the floor)";

    public IReadOnlyList<string> Options =>
    [
        "--channels N      live channels, each 3 renditions + audio (default 4)",
        "--dvr N           PublishingPoint:DvrWindowSeconds (default 20)",
        "--seconds N       push length (default: 2 windows + 15 s)",
        "--viewers N       HLS viewers per channel (default 0: the window alone; viewers fill the HLS segment cache too)",
        "--fsync false     archive without fsync (default: the server's default, fsync on)",
        "--output FILE     JSON results (default benchmark-results/memory.json)",
    ];

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var channels = arguments.Int("channels", 4, 1, 100);
        var dvr = arguments.Int("dvr", 20, 10, 3600);
        var seconds = arguments.Int("seconds", (2 * dvr) + 15, 10, 24 * 3600);
        var viewers = arguments.Int("viewers", 0, 0, 100);
        var output = arguments.String("output") ?? Path.Combine("benchmark-results", "memory.json");
        if (seconds <= dvr + 6)
        {
            await Console.Error.WriteLineAsync("--seconds must be longer than the DVR window (plus the 6 s start-up) so the window is full");
            return 1;
        }

        var input = await LiveLadder.EnsureAsync(LiveLadder.DefaultFolder, cancellationToken);
        Console.WriteLine($"memory: {channels} channels, DVR window {dvr} s, {seconds} s push, {viewers} viewers per channel");
        await using var server = await LiveServer.StartAsync([$"--PublishingPoint:DvrWindowSeconds={dvr}", .. LiveSettings.Fsync(arguments)], cancellationToken);
        var run = await LiveRun.RunAsync(server, input, new LiveRunOptions(channels, viewers, TimeSpan.FromSeconds(seconds)), Console.WriteLine, cancellationToken);
        foreach (var problem in run.Problems.Take(5))
        {
            Console.WriteLine($"  ! {problem}");
        }

        var ratio = (double)run.FinalRssBytes / run.BytesInMemory;
        var aboveIdle = (double)(run.FinalRssBytes - run.IdleRssBytes) / run.BytesInMemory;
        Console.WriteLine();
        Console.WriteLine(string.Format(inv, "{0,8} {1,6} {2,7} {3,12} {4,12} {5,10} {6,13} {7,14} {8,14}",
            "channels", "tracks", "DVR s", "window MB", "RSS MB", "idle MB", "RSS/window", "(RSS-idle)/win", "RSS MB/ch"));
        Console.WriteLine(new string('-', 104));
        Console.WriteLine(string.Format(inv, "{0,8} {1,6} {2,7} {3,12:F1} {4,12:F1} {5,10:F1} {6,13:F2} {7,14:F2} {8,14:F1}",
            channels, run.Tracks, dvr, run.BytesInMemory / 1e6, run.FinalRssBytes / 1e6, run.IdleRssBytes / 1e6, ratio, aboveIdle, run.RssMegabytesPerChannel));
        Console.WriteLine();
        Console.WriteLine("window MB: sum of tracks[].bytesInMemory from /api/points (the fragment bytes the DVR windows hold) at the end of the push;");
        Console.WriteLine("RSS: the server process's VmRSS at the same moment; idle: before the push. 1.0 is the physical floor for RSS/window.");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new { dvr, ratio, aboveIdle, run = LiveSettings.Json(run) }, _json), cancellationToken);
        Console.WriteLine($"saved {Path.GetFullPath(output)}");
        return 0;
    }
}
