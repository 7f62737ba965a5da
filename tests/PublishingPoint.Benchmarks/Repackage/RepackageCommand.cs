using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Benchmarks.Repackage;

/// <summary>
/// HLS TS repackaging throughput next to <c>ffmpeg -c copy -f mpegts</c> on the same media, in the same run:
/// encode a multi-bitrate ladder, ingest it into an in-process server, then time both.
/// </summary>
internal sealed class RepackageCommand : IBenchmarkCommand
{
    private const string PointName = "bench/repackage.isml";

    public string Name => "repackage";

    public string Description => "HLS MPEG-TS repackaging of a multi-bitrate stream vs ffmpeg -c copy -f mpegts";

    public IReadOnlyList<string> Options { get; } =
    [
        "--seconds N      length of the test stream (default 60)",
        "--iterations N   timed passes over all segments of our repackager, after warm-up (default 10)",
        "--ffmpeg-runs N  ffmpeg remux runs per rendition, the best counts (default 3)",
        "--ffmpeg-loops N input read N times in one ffmpeg run (-stream_loop) for its steady-state speed (default 10)",
        "--preset P       x264 preset of the test input (default veryfast)",
        "--output FILE    JSON results (default benchmark-results/repackage.json)",
        "--keep           keep the temp folder (inputs, ffmpeg outputs)",
        "--work DIR       work in DIR instead of a temp folder and keep it; inputs already there are reused",
    ];

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var seconds = arguments.Int("seconds", 60, 4, 3600);
        var iterations = arguments.Int("iterations", 10, 1, 1000);
        var ffmpegRuns = arguments.Int("ffmpeg-runs", 3, 1, 100);
        var loops = arguments.Int("ffmpeg-loops", 10, 2, 1000);
        var preset = arguments.String("preset", "veryfast")!;
        var outputFile = Path.GetFullPath(arguments.String("output", Path.Combine("benchmark-results", "repackage.json"))!);
        var work = arguments.String("work");
        var keep = arguments.Has("keep") || work is not null;
        var folder = work is null ? Directory.CreateTempSubdirectory("pp-bench-repackage-").FullName : Directory.CreateDirectory(work).FullName;
        // The server's archives: always fresh, never kept.
        var data = Directory.CreateTempSubdirectory("pp-bench-data-").FullName;
        try
        {
            Console.WriteLine($"repackage benchmark: {seconds} s, {Rendition.Ladder.Count} renditions, work folder {folder}");
            if (!Optimized())
            {
                Console.WriteLine("WARNING: not an optimized build; run with -c Release for meaningful figures");
            }

            Console.WriteLine("1/4 encoding the input with ffmpeg");
            var inputs = await InputMaker.MakeAsync(folder, seconds, preset, cancellationToken);

            // The whole ladder stays in memory: the benchmark times repackaging, not archive reads. A point that goes VOD
            // keeps no fragment in memory, so the bodies are pushed without their 'mfra' and the point stays live.
            await using var server = await InProcessServer.StartAsync(data, cancellationToken, "--PublishingPoint:MemoryWindowSeconds=3600",
                "--PublishingPoint:DvrWindowSeconds=3600", "--PublishingPoint:FinalizeGraceSeconds=3600");
            Console.WriteLine("2/4 ingesting into an in-process server");
            var point = await IngestAsync(server, inputs, cancellationToken);
            var audio = HlsPlaylistBuilder.AudioOf(point);
            var videos = point.Tracks().Where(t => t.Description.Kind == TrackKind.Video).OrderByDescending(t => t.Key.Bitrate).ToArray();
            if (videos.Length != inputs.Count || audio is null)
            {
                throw new InvalidOperationException($"expected {inputs.Count} video tracks and one audio track, got {string.Join(", ", point.Tracks().Select(t => t.Key))}");
            }

            Console.WriteLine($"3/4 our repackaging: {iterations} timed passes over every segment of each rendition (after warm-up)");
            var ours = new List<Measurement>();
            foreach (var (video, input) in videos.Zip(inputs))
            {
                var m = await OurRepackager.MeasureAsync(point, video, audio, iterations, cancellationToken);
                ours.Add(m with { Rendition = input.Rendition.Name });
                Console.WriteLine($"  {input.Rendition.Name} ({video.Key} + {audio.Key}): {m.Segments} segments, best {m.BestSeconds * 1000:F1} ms, sha256 {m.OutputSha256}");
            }

            Console.WriteLine($"4/4 ffmpeg -c copy -f mpegts: best of {ffmpegRuns} per rendition");
            var theirs = new List<Measurement>();
            var looped = new List<Measurement>();
            foreach (var (input, our) in inputs.Zip(ours))
            {
                var m = await FfmpegRemux.MeasureAsync(input, our.MediaSeconds, ffmpegRuns, 1, folder, cancellationToken);
                theirs.Add(m);
                Console.WriteLine($"  {input.Rendition.Name}: best {m.BestSeconds * 1000:F1} ms ({FfmpegRemux.CommandLine(input)})");
                var l = await FfmpegRemux.MeasureAsync(input, our.MediaSeconds, ffmpegRuns, loops, folder, cancellationToken);
                looped.Add(l);
                Console.WriteLine($"  {input.Rendition.Name} x{loops}: best {l.BestSeconds * 1000:F1} ms ({FfmpegRemux.CommandLine(input, loops)})");
            }

            var report = RepackageReport.Create(seconds, preset, loops, inputs, ours, theirs, looped, await FfmpegVersionAsync(cancellationToken));
            Console.WriteLine();
            Console.WriteLine(report.Table());
            await report.SaveAsync(outputFile, cancellationToken);
            Console.WriteLine($"results saved to {outputFile}");
            return 0;
        }
        finally
        {
            Directory.Delete(data, recursive: true);
            if (keep)
            {
                Console.WriteLine($"kept {folder}");
            }
            else
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    /// <summary>POSTs every rendition at once (as a live encoder ladder would) and waits for the point to turn VOD.</summary>
    private static async Task<Point> IngestAsync(InProcessServer server, IReadOnlyList<RenditionInput> inputs, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var bodies = await Task.WhenAll(inputs.Select(async i => WithoutMfra(await File.ReadAllBytesAsync(i.IngestFile, cancellationToken))));
        await Task.WhenAll(inputs.Select((input, i) => server.PostChunkedAsync($"{PointName}/Streams({input.Rendition.Name})", bodies[i], cancellationToken)));
        var registry = server.Services.GetRequiredService<PointRegistry>();
        var point = registry.All.FirstOrDefault(p => p.Path.Value == PointName) ?? throw new InvalidOperationException($"{PointName} was not created");
        if (point.State != PointState.Live)
        {
            throw new InvalidOperationException($"{PointName} is {point.State}, not live: its fragments would be read from the archive");
        }

        Console.WriteLine($"  {bodies.Sum(b => (long)b.Length) / 1e6:F1} MB ingested in {clock.Elapsed.TotalSeconds:F1} s; tracks: {string.Join(", ", point.Tracks().Select(t => $"{t.Key} ({t.Count} fragments)"))}");
        return point;
    }

    /// <summary>The body up to its 'mfra' (ffmpeg's last box), which would end the stream.</summary>
    private static byte[] WithoutMfra(byte[] body)
    {
        var offset = 0;
        while (offset < body.Length && BoxHeader.TryRead(body.AsSpan(offset), out var header))
        {
            if (header.Type == BoxTypes.Mfra)
            {
                return body[..offset];
            }

            offset += checked((int)header.Size);
        }

        throw new InvalidOperationException("the ismv body has no 'mfra'");
    }

    private static async Task<string> FfmpegVersionAsync(CancellationToken cancellationToken)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pp-bench-ffmpeg-version-{Environment.ProcessId}.txt");
        try
        {
            await ProcessRunner.RunCheckedAsync("ffmpeg", ["-hide_banner", "-version"], path, cancellationToken);
            var line = (await File.ReadAllLinesAsync(path, cancellationToken)).FirstOrDefault() ?? "ffmpeg version unknown";
            var copyright = line.IndexOf(" Copyright", StringComparison.Ordinal);
            return copyright > 0 ? line[..copyright] : line;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static bool Optimized() =>
        typeof(HlsPackager).Assembly.GetCustomAttributes(typeof(DebuggableAttribute), false) is not [DebuggableAttribute { IsJITOptimizerDisabled: true }];

    internal static string Machine() =>
        $"{RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}, {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.FrameworkDescription}";
}
