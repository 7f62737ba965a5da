using System.Globalization;
using System.Text.Json;
using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Channels;

/// <summary>
/// How many live channels (3 renditions + audio each, ffmpeg -re -c copy) one server process sustains on this
/// machine while viewers pull every playlist and segment: steps of 1, 2, 4, ... channels on a fresh server each,
/// CPU and RSS of the server per channel, stopping at the first step with late fragments, errors or a stalled encoder.
/// </summary>
internal sealed class ChannelsCommand : IBenchmarkCommand
{
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };

    public string Name => "channels";

    public string Description => "ramp 1, 2, 4, ... live channels with viewers until fragments come late: server CPU % and RSS per channel";

    public IReadOnlyList<string> Options =>
    [
        "--from N          first step (default 1); steps double from there",
        "--max N           most channels tried (default 16)",
        "--seconds N       length of each step (default 30)",
        "--viewers N       HLS viewers per channel, each pulling every rendition (default 2)",
        LiveSettings.FsyncOption,
        LiveSettings.SetOption,
        LiveSettings.EnvOption,
        "--pusher P        replay (default: this process sends the recorded encoder bodies, paced) or ffmpeg (a process per channel)",
        "--output FILE     JSON results (default benchmark-results/channels.json)",
    ];

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var max = arguments.Int("max", 16, 1, 1024);
        var from = Math.Min(arguments.Int("from", 1, 1, 1024), max);
        var seconds = arguments.Int("seconds", 30, 10, 3600);
        var viewers = arguments.Int("viewers", 2, 0, 100);
        var output = arguments.String("output") ?? Path.Combine("benchmark-results", "channels.json");
        var input = await LiveLadder.EnsureAsync(LiveLadder.DefaultFolder, cancellationToken);
        var replay = !string.Equals(arguments.String("pusher"), "ffmpeg", StringComparison.OrdinalIgnoreCase);
        var steps = new List<int>();
        for (var n = from; n < max; n *= 2)
        {
            steps.Add(n);
        }

        steps.Add(max);
        Console.WriteLine($"channels: steps {string.Join(", ", steps)}; {seconds} s each on a fresh server process; {viewers} viewers per channel; {(replay ? "encoders replayed from this process" : "an ffmpeg per channel")}; {Environment.ProcessorCount} cores shared by server, encoders and viewers");
        var results = new List<LiveRunResult>();
        var sustained = 0;
        foreach (var n in steps)
        {
            Console.WriteLine($"step: {n} channels");
            await using var server = await LiveServer.StartAsync([$"--PublishingPoint:MaxPoints={Math.Max(100, n)}", .. LiveSettings.Server(arguments)], cancellationToken, LiveSettings.Environment(arguments));
            var run = await LiveRun.RunAsync(server, input, new LiveRunOptions(n, viewers, TimeSpan.FromSeconds(seconds)) { Replay = replay }, Console.WriteLine, cancellationToken);
            results.Add(run);
            foreach (var problem in run.Problems.Take(5))
            {
                Console.WriteLine($"  ! {problem}");
            }

            if (!Clean(run))
            {
                Console.WriteLine($"  server's last warnings:\n{server.Output}");
                break;
            }

            sustained = n;
        }

        Console.WriteLine();
        Console.WriteLine(string.Format(inv, "{0,8} {1,7} {2,7} {3,8} {4,9} {5,8} {6,9} {7,11} {8,10} {9,6} {10,7} {11,7} {12,7}",
            "channels", "viewers", "CPU %", "CPU %/ch", "client %", "RSS MB", "RSS MB/ch", "+RSS MB/ch", "late", "slow", "errors", "stalls", "result"));
        Console.WriteLine(new string('-', 117));
        foreach (var r in results)
        {
            Console.WriteLine(string.Format(inv, "{0,8} {1,7} {2,7:F1} {3,8:F1} {4,9:F1} {5,8:F0} {6,9:F1} {7,11:F1} {8,10} {9,6} {10,7} {11,7} {12,7}",
                r.Channels, r.Viewers, r.CpuPercent, r.CpuPercentPerChannel, r.ClientCpuPercent, r.FinalRssBytes / 1e6, r.RssMegabytesPerChannel,
                (r.FinalRssBytes - r.IdleRssBytes) / 1e6 / r.Channels, $"{r.LateFragments}/{r.FragmentsObserved}", r.SlowSegments, r.SegmentErrors + r.PlaylistErrors,
                r.EncoderStalls + r.EncoderExits, Clean(r) ? "ok" : "LATE"));
        }

        Console.WriteLine();
        Console.WriteLine("CPU %: server process, % of one core, after a 6 s warm-up; client %: this process (replayed encoders and viewers; ffmpeg");
        Console.WriteLine("processes not included); RSS at the end of the step; +RSS: above the idle server.");
        Console.WriteLine("late: fragments listed more than one fragment duration after their media time (beyond the channel's usual delay) / fragments seen.");
        Console.WriteLine("slow: segments that arrived whole at a viewer later than a player would play them: their duration after it saw them listed, the k-th of the three a viewer joins with k durations (a viewer downloads one segment of a rendition at a time, its renditions side by side).");
        Console.WriteLine(sustained == max
            ? $"sustained every step up to --max {max} channels: raise --max to find the limit"
            : $"sustained: {sustained} channels (the last step without late fragments, errors or stalled encoders)");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new { sustained, seconds, viewers, steps = results.Select(LiveSettings.Json) }, _json), cancellationToken);
        Console.WriteLine($"saved {Path.GetFullPath(output)}");
        return 0;
    }

    private static bool Clean(LiveRunResult run) =>
        run.LateFragments == 0 && run.SlowSegments == 0 && run.SegmentErrors + run.PlaylistErrors == 0 && run.EncoderStalls + run.EncoderExits == 0;
}
