using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Benchmarks.Live;
using PublishingPoint.Benchmarks.Memory;

namespace PublishingPoint.Benchmarks.Age;

/// <summary>
/// What a live channel costs as it ages: a fresh server indexes the channel's history (one-second fragments, as fast as
/// it takes them), then the same live push (fragments at a steady rate, viewers reloading the playlists and manifests
/// of every version) is timed. When renders read only the live window, the CPU per live fragment is the same at every
/// age; when they copy the index, it grows with the hours indexed.
/// </summary>
internal sealed class AgeCommand : IBenchmarkCommand
{
    private const string Point = "live/age.isml";
    private const int WarmUpSeconds = 5;
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };
    private const string Fmp4Playlist = Point + "/hls/video-50000-fmp4.m3u8";

    // What viewers reload, and the operator API the dashboard polls.
    private static readonly string[] _resources = [Point + "/hls/video-50000.m3u8", Fmp4Playlist, Point + "/manifest.mpd", Point + "/Manifest", "api/points"];

    public string Name => "age";

    public string Description => "server CPU per live fragment of a channel with hours of history indexed, against a young one";

    public IReadOnlyList<string> Options =>
    [
        "--ages LIST       history indexed before the live phase, in one-second fragments, comma-separated (default 600,86400)",
        "--seconds N       live phase timed, after 5 s of it untimed (default 20)",
        "--rate N          live fragments a second (default 10: faster than real time, so the renders stand out)",
        "--viewers N       clients reloading the TS and fMP4 media playlists, the MPD, the Smooth manifest and /api/points (default 4)",
        LiveSettings.FsyncOption,
        LiveSettings.SetOption,
        "--output FILE     JSON results (default benchmark-results/age.json)",
    ];

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var ages = (arguments.String("ages") ?? "600,86400").Split(',').Select(a => int.Parse(a, inv)).ToArray();
        var seconds = arguments.Int("seconds", 20, 5, 3600);
        var rate = arguments.Int("rate", 10, 1, 100);
        var viewers = arguments.Int("viewers", 4, 1, 64);
        var output = arguments.String("output") ?? Path.Combine("benchmark-results", "age.json");
        if (ages.Any(a => a is < 10 or > 7 * 24 * 3600))
        {
            await Console.Error.WriteLineAsync("--ages values must be between 10 and 604800");
            return 1;
        }

        var live = seconds * rate;
        // Room for the live phase however long the history takes to index (the body paces from its end on).
        var recording = await AgedInput.EnsureAsync(ages.Max() + ((seconds + WarmUpSeconds + 120) * rate), cancellationToken);
        var rows = new List<AgeRow>();
        foreach (var age in ages)
        {
            Console.WriteLine($"age: {age} fragments of history, then {live} live at {rate}/s with {viewers} viewers");
            await using var server = await LiveServer.StartAsync(["--PublishingPoint:FinalizeGraceSeconds=3600", .. LiveSettings.Server(arguments)], cancellationToken);
            rows.Add(await MeasureAsync(server, recording, age, live, rate, viewers, cancellationToken));
            Console.WriteLine("  " + rows[^1].Line(rows[0]));
        }

        Console.WriteLine();
        Console.WriteLine(AgeRow.Header);
        Console.WriteLine(new string('-', AgeRow.Header.Length));
        rows.ForEach(r => Console.WriteLine(r.Line(rows[0])));
        Console.WriteLine();
        Console.WriteLine("history s: fragments (one second each) indexed before the live phase; index µs: server CPU per history fragment;");
        Console.WriteLine("live fragments: those the server indexed in the timed phase; requests: the viewers' in that time;");
        Console.WriteLine("live ms: server CPU per live fragment (its ingest and archive, the renders of each new version of the TS and fMP4");
        Console.WriteLine("media playlists, the MPD and the Smooth manifest, the viewers' requests and /api/points); x first: against the first age;");
        Console.WriteLine("RSS at the end; gen2 MB: the server's oldest managed generation after its last collection (where the index lives);");
        Console.WriteLine("B/fragment: its growth against the first age per fragment of history, the index's cost per fragment.");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new { seconds, rate, viewers, rows }, _json), cancellationToken);
        Console.WriteLine($"saved {Path.GetFullPath(output)}");
        return 0;
    }

    private static async Task<AgeRow> MeasureAsync(LiveServer server, LiveRecording recording, int age, int live, int rate, int viewers, CancellationToken cancellationToken)
    {
        var start = server.Sample();
        var clock = Stopwatch.StartNew();
        var body = new PacedBody(recording, age, rate);
        using var content = new StreamContent(body);
        // The push lasts as long as its history takes and the live phase: no client timeout.
        using var encoder = new HttpClient { BaseAddress = server.BaseUrl, Timeout = Timeout.InfiniteTimeSpan };
        var push = encoder.PostAsync(new Uri(Point + "/Streams(v)", UriKind.Relative), content, cancellationToken);
        await WaitForSegmentAsync(server, age - 1, push, cancellationToken);
        var indexed = server.Sample();
        var indexSeconds = clock.Elapsed.TotalSeconds;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var requests = new int[viewers];
        var watchers = Enumerable.Range(0, viewers).Select(v => WatchAsync(server.Http, requests, v, stop.Token)).ToArray();
        // Not timed: the young channel's server would still be compiling its hot paths.
        await Task.Delay(TimeSpan.FromSeconds(WarmUpSeconds), cancellationToken);
        var from = server.Sample();
        var (newestBefore, requestsBefore) = (await NewestSegmentAsync(server, cancellationToken), requests.Sum());
        await Task.Delay(TimeSpan.FromSeconds((double)live / rate), cancellationToken);
        var end = server.Sample();
        var (fragments, asked) = ((int)(await NewestSegmentAsync(server, cancellationToken) - newestBefore), requests.Sum() - requestsBefore);
        var heap = await ManagedHeap.ReadAsync(server.Http, cancellationToken);
        await stop.CancelAsync();
        await Task.WhenAll(watchers);
        body.Finish();
        using var response = await push;
        return new AgeRow(age, (indexed.CpuSeconds - start.CpuSeconds) / age * 1e6, indexSeconds, fragments, asked,
            (end.CpuSeconds - from.CpuSeconds) / fragments * 1e3, end.RssBytes / 1e6, heap.SizeBytes["gen2"] / 1e6);
    }

    /// <summary>Waits until the fMP4 media playlist lists segment <paramref name="sequence"/> (history indexed).</summary>
    private static async Task WaitForSegmentAsync(LiveServer server, int sequence, Task<HttpResponseMessage> push, CancellationToken cancellationToken)
    {
        while (await NewestSegmentAsync(server, cancellationToken) < sequence)
        {
            if (push.IsCompleted)
            {
                using var failed = await push;
                throw new InvalidOperationException($"the push ended before its history was indexed: {(int)failed.StatusCode} {await failed.Content.ReadAsStringAsync(cancellationToken)}");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>The number of the newest segment the fMP4 media playlist lists (-1 before any): the server's count of what it indexed.</summary>
    private static async Task<long> NewestSegmentAsync(LiveServer server, CancellationToken cancellationToken)
    {
        using var response = await server.Http.GetAsync(new Uri(Fmp4Playlist, UriKind.Relative), cancellationToken);
        var lines = response.IsSuccessStatusCode ? (await response.Content.ReadAsStringAsync(cancellationToken)).Split('\n', StringSplitOptions.RemoveEmptyEntries) : [];
        return lines is [.., var last] && last.EndsWith(".m4s", StringComparison.Ordinal)
            ? long.Parse(last[(last.LastIndexOf('/') + 1)..^4], CultureInfo.InvariantCulture)
            : -1;
    }

    /// <summary>A viewer: every resource in turn, then a pause of 50 ms (a new version every 1/rate s).</summary>
    private static async Task WatchAsync(HttpClient http, int[] requests, int viewer, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                foreach (var resource in _resources)
                {
                    using var response = await http.GetAsync(new Uri(resource, UriKind.Relative), cancellationToken);
                    response.EnsureSuccessStatusCode();
                    await response.Content.CopyToAsync(Stream.Null, cancellationToken);
                    requests[viewer]++;
                }

                await Task.Delay(50, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }
}

/// <summary>One age's figures.</summary>
internal sealed record AgeRow(int HistorySeconds, double IndexMicroseconds, double IndexSeconds, int LiveFragments, int Requests, double LiveMilliseconds, double RssMb, double Gen2Mb)
{
    public const string Header = "history s   index µs   index s   live fragments   requests   live ms   x first   RSS MB   gen2 MB   B/fragment";

    public string Line(AgeRow first) => string.Format(CultureInfo.InvariantCulture, "{0,9} {1,10:F1} {2,9:F1} {3,16} {4,10} {5,9:F2} {6,9:F2} {7,8:F1} {8,9:F1} {9,12}",
        HistorySeconds, IndexMicroseconds, IndexSeconds, LiveFragments, Requests, LiveMilliseconds, LiveMilliseconds / first.LiveMilliseconds, RssMb, Gen2Mb,
        HistorySeconds == first.HistorySeconds ? "-" : ((Gen2Mb - first.Gen2Mb) * 1e6 / (HistorySeconds - first.HistorySeconds)).ToString("F0", CultureInfo.InvariantCulture));
}
