using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Latency;

/// <summary>
/// `latency --low-latency`: a low-latency CMAF push (-c copy, a moof every 200 ms, prft wall clock) through the
/// timestamping forwarder. Three figures: ingest-to-part-available (the last byte of a chunk's mdat at the server to
/// the blocking playlist reload that first lists its part), glass to glass in hls.js (low-latency mode, Chromium:
/// now minus the capture time of the frame on screen), and what 10,000 blocking reloads held at once cost the server.
/// </summary>
internal static partial class LowLatencyRun
{
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };

    private const string Point = "live/ll.isml";

    public static async Task<int> RunAsync(int seconds, IReadOnlyList<string> settings, string output, CancellationToken cancellationToken)
    {
        var input = await LiveLadder.EnsureAsync(LiveLadder.DefaultFolder, cancellationToken);
        Console.WriteLine($"latency --low-latency: {seconds} s low-latency CMAF push of 720p 2500k + AAC through a timestamping forwarder");
        await using var server = await LiveServer.StartAsync(settings, cancellationToken);
        var forwarder = new MdatForwarder(new IPEndPoint(IPAddress.Loopback, server.BaseUrl.Port));
        var encoder = LiveEncoder.Start(input, new Uri($"http://127.0.0.1:{forwarder.Port}/{Point}/"), fullLadder: false, lowLatency: true);
        var playlist = await VideoPlaylistAsync(server, cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watchFrom = Stopwatch.GetTimestamp();
        var watcher = Task.Run(() => WatchPartsAsync(server.Http, playlist, stop.Token), CancellationToken.None);
        List<double> glass;
        HeldCost held;
        long playerFrom, burstFrom, burstTo;
        SortedDictionary<double, double> serverBefore, serverAfter;
        var quiet = TimeSpan.FromSeconds(Math.Max(10, seconds / 3));
        var playing = TimeSpan.FromSeconds(Math.Max(10, seconds / 3));
        try
        {
            // alone first (the server and the one client following the parts), then with Chromium playing, then the burst
            await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
            serverBefore = await PartHistogramAsync(server, cancellationToken);
            await Task.Delay(quiet - TimeSpan.FromSeconds(5), cancellationToken);
            playerFrom = Stopwatch.GetTimestamp();
            serverAfter = await PartHistogramAsync(server, cancellationToken);
            glass = await GlassToGlassAsync(server, playing, cancellationToken);
            burstFrom = Stopwatch.GetTimestamp();
            held = await HeldRequestsAsync(server, playlist, 10_000, cancellationToken);
            burstTo = Stopwatch.GetTimestamp();
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        }
        finally
        {
            await stop.CancelAsync();
            await encoder.DisposeAsync();
            await forwarder.DisposeAsync();
        }

        var listed = await watcher;
        var ends = forwarder.Ends.Where(e => e.TrackId == 1).ToArray();
        double[] Available(long from, long to) => [.. listed
            .Where(l => l.Index < ends.Length && l.Timestamp >= from && l.Timestamp < to)
            .Select(l => Stopwatch.GetElapsedTime(ends[l.Index].Timestamp, l.Timestamp).TotalMilliseconds).Order()];
        // the first 5 s are the server's warm-up (tiered JIT): left out
        var alone = Available(watchFrom + (5 * Stopwatch.Frequency), playerFrom);
        var withPlayer = Available(playerFrom, burstFrom);
        var duringBurst = Available(burstFrom, burstTo);
        if (alone.Length == 0 || glass.Count == 0)
        {
            await Console.Error.WriteLineAsync($"nothing was measured ({alone.Length} parts, {glass.Count} glass-to-glass samples); ffmpeg: {encoder.Messages}\nserver: {server.Output}");
            return 1;
        }

        glass.Sort();
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine();
        string Parts(double[] sorted) => sorted.Length == 0 ? "none"
            : string.Format(inv, "{0} parts, p50 {1:F1} ms, p99 {2:F1} ms, max {3:F1} ms", sorted.Length, Percentile(sorted, 50), Percentile(sorted, 99), sorted[^1]);
        var (serverCount, serverP50, serverP99, within5) = Quantiles(serverBefore, serverAfter);
        Console.WriteLine(string.Format(inv, "ingest to part listed, inside the server (its own histogram, bucket bounds): {0} parts, p50 <= {1} ms, p99 <= {2} ms, {3:P1} within 5 ms",
            serverCount, serverP50 * 1000, serverP99 * 1000, within5));
        Console.WriteLine($"ingest to part available, server and one LL client only: {Parts(alone)}");
        Console.WriteLine($"ingest to part available, Chromium playing on the same cores: {Parts(withPlayer)}");
        Console.WriteLine($"ingest to part available, during the 10,000-request burst: {Parts(duringBurst)}");
        Console.WriteLine(string.Format(inv, "glass to glass (hls.js low-latency mode): {0} samples, p50 {1:F2} s, p90 {2:F2} s", glass.Count, Percentile([.. glass], 50), Percentile([.. glass], 90)));
        Console.WriteLine(string.Format(inv, "10,000 held blocking reloads: {0} answered 200, held {1:F1} s; server RSS {2:F1} -> {3:F1} MB while held, CPU {4:F2} s over the hold",
            held.Answered, held.HeldSeconds, held.RssBeforeMb, held.RssHeldMb, held.CpuSeconds));
        Console.WriteLine();
        Console.WriteLine("Ingest to part: from the forwarder writing the last byte of a chunk's mdat to the server, to the answer of the blocking playlist");
        Console.WriteLine("reload (_HLS_msn/_HLS_part) that first lists it, on one clock. Glass to glass: Date.now() minus hls.playingDate (the prft capture clock).");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new
        {
            seconds,
            serverPartP50 = serverP50,
            serverPartP99 = serverP99,
            partP50 = Percentile(alone, 50),
            partP99 = Percentile(alone, 99),
            partWithPlayerP99 = withPlayer.Length == 0 ? 0 : Percentile(withPlayer, 99),
            partDuringBurstP99 = duringBurst.Length == 0 ? 0 : Percentile(duringBurst, 99),
            glassP50 = Percentile([.. glass], 50),
            glassP90 = Percentile([.. glass], 90),
            held,
        }, _json), cancellationToken);
        Console.WriteLine($"saved {Path.GetFullPath(output)}");
        return 0;
    }

    internal sealed record HeldCost(int Answered, double HeldSeconds, double RssBeforeMb, double RssHeldMb, double CpuSeconds);

    /// <summary>Follows the playlist by blocking reloads (every part); the global index of each part (chunk n of the stream) and when it was first listed.</summary>
    /// <summary>The server's part-available histogram (cumulative counts by upper bound, seconds) from /metrics.</summary>
    private static async Task<SortedDictionary<double, double>> PartHistogramAsync(LiveServer server, CancellationToken cancellationToken)
    {
        var text = await server.Http.GetStringAsync(new Uri("metrics", UriKind.Relative), cancellationToken);
        var buckets = new SortedDictionary<double, double>();
        foreach (Match bucket in PartBucket().Matches(text))
        {
            var bound = bucket.Groups[1].Value == "+Inf" ? double.PositiveInfinity : double.Parse(bucket.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
            buckets[bound] = buckets.GetValueOrDefault(bound) + double.Parse(bucket.Groups[2].ValueSpan, CultureInfo.InvariantCulture);
        }

        return buckets;
    }

    /// <summary>Count, and the bucket bounds under which 50 % and 99 % of the parts between two scrapes fell.</summary>
    private static (double Count, double P50, double P99, double Within5Ms) Quantiles(SortedDictionary<double, double> before, SortedDictionary<double, double> after)
    {
        var delta = after.Select(b => (Bound: b.Key, Count: b.Value - before.GetValueOrDefault(b.Key))).ToArray();
        var total = delta.Length == 0 ? 0 : delta[^1].Count;
        double Bound(double q) => delta.FirstOrDefault(b => b.Count >= q * total).Bound;
        return (total, Bound(0.5), Bound(0.99), total == 0 ? 0 : delta.LastOrDefault(b => b.Bound <= 0.005).Count / total);
    }

    /// <summary>The video media playlist the master lists (its name carries the bitrate the encoder declares).</summary>
    private static async Task<Uri> VideoPlaylistAsync(LiveServer server, CancellationToken cancellationToken)
    {
        var master = new Uri(server.BaseUrl, $"{Point}/master-fmp4.m3u8");
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            using var response = await server.Http.GetAsync(master, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                var line = (await response.Content.ReadAsStringAsync(cancellationToken)).Split('\n').FirstOrDefault(l => l.Contains("video-", StringComparison.Ordinal) && !l.StartsWith('#'));
                if (line is not null)
                {
                    return new Uri(master, line.Trim());
                }
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new InvalidOperationException($"no video playlist in {master} after 20 s; server: {server.Output}");
    }

    private static async Task<List<(int Index, long Timestamp)>> WatchPartsAsync(HttpClient http, Uri playlist, CancellationToken cancellationToken)
    {
        var listed = new List<(int, long)>();
        var seen = new HashSet<(long, int)>();
        var partsOf = new Dictionary<long, int>();
        try
        {
            string text;
            while (true)
            {
                using var response = await http.GetAsync(playlist, cancellationToken);
                text = await response.Content.ReadAsStringAsync(cancellationToken);
                if (response.IsSuccessStatusCode && text.Contains("#EXT-X-PART:", StringComparison.Ordinal))
                {
                    break;
                }

                await Task.Delay(20, cancellationToken);
            }

            var first = true;
            while (true)
            {
                var now = Stopwatch.GetTimestamp();
                foreach (Match part in PartUri().Matches(text))
                {
                    var key = (long.Parse(part.Groups[1].ValueSpan, CultureInfo.InvariantCulture), int.Parse(part.Groups[2].ValueSpan, CultureInfo.InvariantCulture));
                    partsOf[key.Item1] = Math.Max(partsOf.GetValueOrDefault(key.Item1), key.Item2 + 1);
                    // the parts of the first answer were there before we looked: they count for the index, not for the figure
                    if (seen.Add(key) && !first)
                    {
                        var index = partsOf.Where(p => p.Key < key.Item1).Sum(p => p.Value) + key.Item2;
                        listed.Add((index, now));
                    }
                }

                first = false;
                var hint = HintUri().Match(text);
                var next = $"{playlist}?_HLS_msn={hint.Groups[1].Value}&_HLS_part={hint.Groups[2].Value}";
                using var response = await http.GetAsync(next, cancellationToken);
                text = await response.Content.ReadAsStringAsync(cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException)
        {
            return listed;
        }
    }

    private static async Task<List<double>> GlassToGlassAsync(LiveServer server, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
        });
        var page = await browser.NewPageAsync();
        var master = new Uri(server.BaseUrl, $"{Point}/master-fmp4.m3u8");
        var pageBase = new Uri(server.BaseUrl, "/page").ToString();
        var hlsJs = await File.ReadAllBytesAsync(HlsJs(), cancellationToken);
        await page.RouteAsync(pageBase + "/**", route => route.Request.Url.EndsWith("/hls.min.js", StringComparison.Ordinal)
            ? route.FulfillAsync(new RouteFulfillOptions { Status = 200, ContentType = "application/javascript", BodyBytes = hlsJs })
            : route.FulfillAsync(new RouteFulfillOptions { Status = 200, ContentType = "text/html", Body = $$"""
                <!doctype html><video id="v" muted autoplay playsinline></video><script src="hls.min.js"></script>
                <script>
                  const hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 });
                  hls.on(Hls.Events.MANIFEST_PARSED, () => document.getElementById('v').play());
                  window.latency = () => hls.playingDate ? (Date.now() - hls.playingDate.getTime()) / 1000 : 0;
                  hls.loadSource('{{master}}'); hls.attachMedia(document.getElementById('v'));
                </script>
                """ }));
        await page.GotoAsync(pageBase + "/index.html");
        var samples = new List<double>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            await Task.Delay(250, cancellationToken);
            var latency = await page.EvaluateAsync<double>("window.latency()");
            if (latency > 0 && await page.EvaluateAsync<double>("document.getElementById('v').currentTime") > 2)
            {
                samples.Add(latency);
            }
        }

        return samples;
    }

    /// <summary>10,000 blocking reloads for two segments past the live edge, all held at once, and what they cost the server.</summary>
    private static async Task<HeldCost> HeldRequestsAsync(LiveServer server, Uri playlist, int count, CancellationToken cancellationToken)
    {
        var text = await server.Http.GetStringAsync(playlist, cancellationToken);
        var hint = HintUri().Match(text);
        var target = long.Parse(hint.Groups[1].ValueSpan, CultureInfo.InvariantCulture) + 2;
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = count, PooledConnectionLifetime = TimeSpan.FromMinutes(1) };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        var before = server.Sample();
        var clock = Stopwatch.StartNew();
        var requests = Enumerable.Range(0, count).Select(async _ =>
        {
            try
            {
                using var response = await http.GetAsync($"{playlist}?_HLS_msn={target}", cancellationToken);
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }).ToArray();
        await Task.Delay(1500, cancellationToken);
        var held = server.Sample();
        var answered = (await Task.WhenAll(requests)).Count(ok => ok);
        var after = server.Sample();
        return new HeldCost(answered, clock.Elapsed.TotalSeconds, before.RssBytes / 1e6, held.RssBytes / 1e6, after.CpuSeconds - before.CpuSeconds);
    }

    private static string HlsJs()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "PublishingPoint.Server.Tests", "Browser", "node_modules", "hls.js", "dist", "hls.min.js");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("hls.js not found: build tests/PublishingPoint.Server.Tests (it runs npm ci) first");
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    [GeneratedRegex(@"publishingpoint_ingest_part_available_duration(?:_seconds)?_bucket\{[^}]*le=""([^""]+)""\} ([0-9.e+]+)")]
    private static partial Regex PartBucket();

    [GeneratedRegex(@"#EXT-X-PART:[^\n]*URI=""video-\d+/(\d+)\.(\d+)\.m4s""")]
    private static partial Regex PartUri();

    [GeneratedRegex(@"PRELOAD-HINT:TYPE=PART,URI=""video-\d+/(\d+)\.(\d+)\.m4s""")]
    private static partial Regex HintUri();
}
