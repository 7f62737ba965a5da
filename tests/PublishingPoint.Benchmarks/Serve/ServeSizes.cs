using System.Globalization;
using System.Text.Json;
using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Serve;

/// <summary>
/// <c>serve --sizes</c>: what one request costs at the sizes players really ask for. Three renditions of one point
/// whose TS segments (2 s, the point's AAC muxed in) are about 750, 150 and 30 KB, and the live media playlist, each
/// next to nginx serving the same bytes as a static file, with the shipped settings (request log at Information).
/// </summary>
internal static class ServeSizes
{
    private static readonly (string Size, int VideoKbps, bool Audio)[] _ladder = [("1280x720", 2800, true), ("640x360", 500, false), ("320x180", 40, false)];
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };

    public static async Task<int> RunAsync(int seconds, int rounds, int[] connections, string output, CancellationToken cancellationToken)
    {
        var work = Directory.CreateTempSubdirectory("pp-serve-sizes-").FullName;
        try
        {
            Console.WriteLine("encoding 20 s of three renditions (2800, 500 and 40 kbit/s video; 64 kbit/s AAC in the first) ...");
            var bodies = new List<byte[]>();
            for (var i = 0; i < _ladder.Length; i++)
            {
                var (size, kbps, audio) = _ladder[i];
                var file = Path.Combine(work, $"r{i}.ismv");
                string[] audioArgs = audio ? ["-f", "lavfi", "-i", "sine=sample_rate=48000"] : [];
                string[] audioCodec = audio ? ["-c:a", "aac", "-b:a", "64k"] : ["-an"];
                await ProcessRunner.RunCheckedAsync("ffmpeg",
                    ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", $"testsrc2=size={size}:rate=25", .. audioArgs,
                     "-t", "20", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-b:v", $"{kbps}k", "-maxrate", $"{kbps}k", "-bufsize", $"{kbps * 2}k",
                     "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", .. audioCodec, "-movflags", "isml+frag_keyframe", "-f", "ismv", "pipe:1"], file, cancellationToken);
                var body = await File.ReadAllBytesAsync(file, cancellationToken);
                bodies.Add(body[..ServeCommand.FindMfra(body)]); // no end of stream: the point stays live
            }

            // The shipped server process (its runtimeconfig: server GC, thread-pool minimum, ConserveMemory) with the shipped
            // appsettings.json and its log level: LiveServer turns the level down, the last setting given wins.
            await using var server = await LiveServer.StartAsync(["--PublishingPoint:FinalizeGraceSeconds=3600", "--Serilog:MinimumLevel:Default=Information"], cancellationToken);
            for (var i = 0; i < bodies.Count; i++)
            {
                await server.PostChunkedAsync($"live/sizes.isml/Streams(r{i})", bodies[i], cancellationToken);
            }

            var root = Path.Combine(work, "www");
            Directory.CreateDirectory(root);
            var master = await server.Http.GetStringAsync(new Uri("live/sizes.isml/master.m3u8", UriKind.Relative), cancellationToken);
            var playlists = master.Split('\n').Where(l => l.StartsWith("hls/video-", StringComparison.Ordinal)).Select(l => l.Trim()).ToList();
            var objects = new List<(string Label, string Path, byte[] Bytes)>();
            foreach (var playlist in playlists)
            {
                var path = $"live/sizes.isml/{playlist[..^".m3u8".Length]}/3.ts";
                var bytes = await server.Http.GetByteArrayAsync(new Uri(path, UriKind.Relative), cancellationToken);
                objects.Add((string.Create(CultureInfo.InvariantCulture, $"TS segment {bytes.Length / 1024} KB"), path, bytes));
            }

            var smallest = playlists.Last();
            var playlistBytes = await server.Http.GetByteArrayAsync(new Uri($"live/sizes.isml/{smallest}", UriKind.Relative), cancellationToken);
            objects.Add(($"live playlist {playlistBytes.Length} B", $"live/sizes.isml/{smallest}", playlistBytes));

            var port = ServeCommand.FreePort();
            using var nginx = ServeCommand.StartNginx(work, root, port);
            try
            {
                var pairs = new List<(string Label, Uri Ours, Uri Nginx)>();
                for (var i = 0; i < objects.Count; i++)
                {
                    var name = i == objects.Count - 1 ? "video.m3u8" : $"{i}.ts";
                    await File.WriteAllBytesAsync(Path.Combine(root, name), objects[i].Bytes, cancellationToken);
                    pairs.Add((objects[i].Label, new Uri(server.BaseUrl, objects[i].Path), new Uri($"http://127.0.0.1:{port}/{name}")));
                }

                return await MeasureAsync(pairs, seconds, rounds, connections, output, cancellationToken);
            }
            finally
            {
                nginx.Kill(entireProcessTree: true);
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<int> MeasureAsync(List<(string Label, Uri Ours, Uri Nginx)> pairs, int seconds, int rounds, int[] connections, string output, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        using (var check = new HttpClient())
        {
            foreach (var (label, ours, theirs) in pairs.Take(pairs.Count - 1))
            {
                var ourBytes = await check.GetByteArrayAsync(ours, cancellationToken);
                var theirBytes = await check.GetByteArrayAsync(theirs, cancellationToken);
                if (!ourBytes.AsSpan().SequenceEqual(theirBytes))
                {
                    throw new InvalidOperationException($"{label}: nginx does not serve the same bytes");
                }
            }
        }

        Console.WriteLine($"wrk -t2 -d{seconds}s --latency, {rounds} rounds, targets alternating; server, nginx and wrk share this machine's {Environment.ProcessorCount} cores");
        foreach (var (label, ours, theirs) in pairs)
        {
            await WrkRun.RunAsync("ours: " + label, ours, connections[0], 3, cancellationToken); // warm-up: JIT, caches
            await WrkRun.RunAsync("nginx: " + label, theirs, connections[0], 3, cancellationToken);
        }

        var runs = new List<WrkRun>();
        foreach (var c in connections)
        {
            for (var round = 0; round < rounds; round++)
            {
                foreach (var (label, ours, theirs) in pairs)
                {
                    runs.Add(await WrkRun.RunAsync("ours: " + label, ours, c, seconds, cancellationToken));
                    runs.Add(await WrkRun.RunAsync("nginx: " + label, theirs, c, seconds, cancellationToken));
                }
            }
        }

        var medians = runs.GroupBy(r => (r.Target, r.Connections)).Select(ServeCommand.Median).ToList();
        Console.WriteLine();
        Console.WriteLine($"median of {rounds} run(s) per cell; ours/nginx in requests/s");
        Console.WriteLine(string.Format(inv, "{0,-28} {1,6} {2,12} {3,12} {4,8} {5,10} {6,10}", "object", "conns", "ours req/s", "nginx req/s", "ratio", "ours p99", "nginx p99"));
        Console.WriteLine(new string('-', 92));
        foreach (var c in connections)
        {
            foreach (var (label, _, _) in pairs)
            {
                var ours = medians.First(r => r.Connections == c && r.Target == "ours: " + label);
                var theirs = medians.First(r => r.Connections == c && r.Target == "nginx: " + label);
                Console.WriteLine(string.Format(inv, "{0,-28} {1,6} {2,12:0} {3,12:0} {4,8:0.00} {5,8:0.00}ms {6,8:0.00}ms{7}", label, c, ours.RequestsPerSecond, theirs.RequestsPerSecond,
                    ours.RequestsPerSecond / theirs.RequestsPerSecond, ours.P99Milliseconds, theirs.P99Milliseconds, ours.Errors + theirs.Errors > 0 ? $" ({ours.Errors + theirs.Errors} errors)" : string.Empty));
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new { seconds, rounds, medians, runs }, _json), cancellationToken);
        Console.WriteLine($"saved {Path.GetFullPath(output)}");
        return 0;
    }
}
