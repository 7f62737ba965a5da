using System.Globalization;
using System.Text.Json;
using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Memory;

/// <summary>
/// Memory against the DVR window: for each window length, a fresh server takes the same push (N channels, each 3
/// renditions + audio, for the same time), then its RSS is read beside the fragment bytes held in memory and the
/// bytes archived. With the window on disk, RSS does not follow the window's length.
/// </summary>
internal sealed class MemoryCommand : IBenchmarkCommand
{
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };

    public string Name => "memory";

    public string Description => "server RSS for several DVR window lengths, the same push each time, against the bytes in memory and archived";

    public IReadOnlyList<string> Options =>
    [
        "--channels N      live channels, each 3 renditions + audio (default 4)",
        "--dvr LIST        PublishingPoint:DvrWindowSeconds values, comma-separated (default 20,300,600)",
        "--seconds N       push length, the same for every window (default 90)",
        "--viewers N       HLS viewers per channel (default 0: the window alone; viewers fill the HLS segment cache too)",
        LiveSettings.FsyncOption,
        LiveSettings.SetOption,
        "--output FILE     JSON results (default benchmark-results/memory.json)",
    ];

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var channels = arguments.Int("channels", 4, 1, 100);
        var windows = (arguments.String("dvr") ?? "20,300,600").Split(',').Select(w => int.Parse(w, inv)).ToArray();
        var seconds = arguments.Int("seconds", 90, 10, 24 * 3600);
        var viewers = arguments.Int("viewers", 0, 0, 100);
        var output = arguments.String("output") ?? Path.Combine("benchmark-results", "memory.json");
        if (windows.Any(w => w is < 10 or > 7 * 24 * 3600))
        {
            await Console.Error.WriteLineAsync("--dvr values must be between 10 and 604800");
            return 1;
        }

        var input = await LiveLadder.EnsureAsync(LiveLadder.DefaultFolder, cancellationToken);
        var rows = new List<object>();
        var lines = new List<string>();
        foreach (var dvr in windows)
        {
            Console.WriteLine($"memory: {channels} channels, DVR window {dvr} s, {seconds} s push, {viewers} viewers per channel");
            await using var server = await LiveServer.StartAsync([$"--PublishingPoint:DvrWindowSeconds={dvr}", .. LiveSettings.Server(arguments)], cancellationToken);
            var run = await LiveRun.RunAsync(server, input, new LiveRunOptions(channels, viewers, TimeSpan.FromSeconds(seconds)), Console.WriteLine, cancellationToken);
            foreach (var problem in run.Problems.Take(5))
            {
                Console.WriteLine($"  ! {problem}");
            }

            var heap = await ManagedHeap.ReadAsync(server.Http, cancellationToken);
            Console.WriteLine("  " + heap.Describe());
            var archived = Directory.EnumerateFiles(server.DataPath, "*.ismv", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            var growth = run.FinalRssBytes - run.IdleRssBytes;
            var anonGrowth = run.AnonBytes.Final - run.AnonBytes.Idle;
            lines.Add(string.Format(inv, "{0,6} {1,8} {2,6} {3,11:F1} {4,11:F1} {5,9:F1} {6,9:F1} {7,12:F1} {8,15:F2} {9,12:F1} {10,12:F2}",
                dvr, channels, run.Tracks, run.BytesInMemory / 1e6, archived / 1e6, run.IdleRssBytes / 1e6, run.FinalRssBytes / 1e6, growth / 1e6, (double)growth / archived,
                anonGrowth / 1e6, (double)anonGrowth / archived));
            rows.Add(new { dvr, archived, growth, anonGrowth, heap, run = LiveSettings.Json(run) });
        }

        Console.WriteLine();
        Console.WriteLine(string.Format(inv, "{0,6} {1,8} {2,6} {3,11} {4,11} {5,9} {6,9} {7,12} {8,15} {9,12} {10,12}",
            "DVR s", "channels", "tracks", "memory MB", "archive MB", "idle MB", "RSS MB", "growth MB", "growth/archive", "anon MB", "anon/archive"));
        Console.WriteLine(new string('-', 126));
        lines.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine($"The same {seconds} s push for each window. memory MB: fragment bytes held in memory (tracks[].bytesInMemory from /api/points);");
        Console.WriteLine("archive MB: the .ismv files written; RSS: the server's VmRSS at the end, idle before the push; growth = RSS - idle;");
        Console.WriteLine("anon MB: the growth of RssAnon alone (the server's own memory, without the pages of the binaries it maps, which VmRSS counts too).");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new { channels, seconds, rows }, _json), cancellationToken);
        Console.WriteLine($"saved {Path.GetFullPath(output)}");
        return 0;
    }
}
