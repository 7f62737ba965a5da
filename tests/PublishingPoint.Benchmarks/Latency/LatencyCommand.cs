using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Latency;

/// <summary>
/// Ingest-to-availability: a live push (ffmpeg -re -c copy, 720p + audio) goes through <see cref="MdatForwarder"/>,
/// which timestamps the last byte of each fragment's mdat on its way to the server; a player polls the live TS
/// media playlist every few ms and timestamps when each segment is first listed (and its GET answers 200).
/// The latency of a fragment is the difference, on one clock.
/// </summary>
internal sealed class LatencyCommand : IBenchmarkCommand
{
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };

    public string Name => "latency";

    public string Description => "ingest-to-availability per fragment: last mdat byte at the server to the first playlist that lists it (p50/p99/max)";

    public IReadOnlyList<string> Options =>
    [
        "--seconds N       push length (default 60: 30 fragments of 2 s)",
        "--poll-ms N       playlist polling period of the player (default 20)",
        LiveSettings.FsyncOption,
        LiveSettings.SetOption,
        "--low-latency     low-latency CMAF push: ingest-to-part, hls.js glass to glass, 10,000 held reloads (default output benchmark-results/latency-ll.json)",
        "--output FILE     JSON results (default benchmark-results/latency.json)",
    ];

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var seconds = arguments.Int("seconds", 60, 10, 3600);
        var poll = TimeSpan.FromMilliseconds(arguments.Int("poll-ms", 20, 1, 5000));
        if (arguments.Has("low-latency"))
        {
            return await LowLatencyRun.RunAsync(seconds, LiveSettings.Server(arguments), arguments.String("output") ?? Path.Combine("benchmark-results", "latency-ll.json"), cancellationToken);
        }

        var output = arguments.String("output") ?? Path.Combine("benchmark-results", "latency.json");
        var input = await LiveLadder.EnsureAsync(LiveLadder.DefaultFolder, cancellationToken);
        var settings = LiveSettings.Server(arguments);
        Console.WriteLine($"latency: {seconds} s push of 720p 2500k + AAC through a timestamping forwarder; player polls every {poll.TotalMilliseconds:F0} ms; server settings: {(settings.Count == 0 ? "as shipped" : string.Join(' ', settings))}");

        await using var server = await LiveServer.StartAsync(settings, cancellationToken);
        var forwarder = new MdatForwarder(new IPEndPoint(IPAddress.Loopback, server.BaseUrl.Port));
        var player = new Player(server.Http, new Uri(server.BaseUrl, "live/lat.isml/master.m3u8"), poll);
        using var stopPlayer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var playing = Task.Run(() => player.RunAsync(stopPlayer.Token), CancellationToken.None);
        var encoder = LiveEncoder.Start(input, new Uri($"http://127.0.0.1:{forwarder.Port}/live/lat.isml/"), fullLadder: false);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(seconds), cancellationToken);
        }
        finally
        {
            await stopPlayer.CancelAsync();
            await playing;
            await encoder.DisposeAsync();
            await forwarder.DisposeAsync();
        }

        // Fragment n is complete when the later of its video (track 1: the first -map) and audio mdat is forwarded.
        var complete = forwarder.Ends.GroupBy(e => e.Index).ToDictionary(g => g.Key, g => (Count: g.Count(), Timestamp: g.Max(e => e.Timestamp)));
        var rows = new List<(int Segment, double Milliseconds)>();
        foreach (var (segment, listed) in player.Available)
        {
            if (complete.TryGetValue((int)segment, out var c) && c.Count >= 2)
            {
                rows.Add(((int)segment, Stopwatch.GetElapsedTime(c.Timestamp, listed).TotalMilliseconds));
            }
        }

        rows.Sort();
        if (rows.Count == 0)
        {
            await Console.Error.WriteLineAsync($"no fragment was measured; ffmpeg: {encoder.Messages}\nserver: {server.Output}");
            return 1;
        }

        var sorted = rows.Select(r => r.Milliseconds).Order().ToArray();
        Console.WriteLine();
        Console.WriteLine(string.Format(inv, "{0,10} {1,8} {2,8} {3,8} {4,8} {5,8} {6,8} {7,14}", "fragments", "min ms", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms", "playlist GET ms"));
        Console.WriteLine(new string('-', 82));
        Console.WriteLine(string.Format(inv, "{0,10} {1,8:F1} {2,8:F1} {3,8:F1} {4,8:F1} {5,8:F1} {6,8:F1} {7,14:F2}",
            sorted.Length, sorted[0], Percentile(sorted, 50), Percentile(sorted, 90), Percentile(sorted, 99), sorted[^1], sorted.Average(), player.MeanPlaylistMilliseconds));
        Console.WriteLine();
        Console.WriteLine("From the moment the forwarder wrote the last byte of a fragment's mdat (the later of video and audio) to the server's socket");
        Console.WriteLine($"to the player's first playlist response that lists it (its segment GET then answered 200); polling adds up to {poll.TotalMilliseconds:F0} ms.");
        Console.WriteLine("Segments listed in the player's first playlist are left out (their arrival was not watched).");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new
        {
            seconds,
            pollMilliseconds = poll.TotalMilliseconds,
            p50 = Percentile(sorted, 50),
            p99 = Percentile(sorted, 99),
            max = sorted[^1],
            fragments = rows.Select(r => new { r.Segment, r.Milliseconds }),
        }, _json), cancellationToken);
        Console.WriteLine($"saved {Path.GetFullPath(output)}");
        return 0;
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>Polls the live TS playlist of the one rendition; records when each segment was first listed and fetchable.</summary>
    private sealed class Player(HttpClient http, Uri master, TimeSpan poll)
    {
        private readonly Dictionary<long, long> _available = [];
        private readonly HashSet<long> _initial = [];
        private double _playlistMilliseconds;
        private int _playlists;

        /// <summary>Segment number and the Stopwatch timestamp of the playlist response that first listed it.</summary>
        public IEnumerable<(long Segment, long Timestamp)> Available => _available.Where(a => !_initial.Contains(a.Key)).Select(a => (a.Key, a.Value));

        public double MeanPlaylistMilliseconds => _playlists == 0 ? 0 : _playlistMilliseconds / _playlists;

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            try
            {
                var variant = await VariantAsync(cancellationToken);
                var first = true;
                var pending = new Dictionary<long, (string Uri, long Listed)>();
                while (true)
                {
                    var asked = Stopwatch.GetTimestamp();
                    using (var response = await http.GetAsync(variant, cancellationToken))
                    {
                        var text = await response.Content.ReadAsStringAsync(cancellationToken);
                        var listed = Stopwatch.GetTimestamp();
                        _playlistMilliseconds += Stopwatch.GetElapsedTime(asked, listed).TotalMilliseconds;
                        _playlists++;
                        if (response.IsSuccessStatusCode)
                        {
                            foreach (var segment in HlsViewer.Parse(text))
                            {
                                if (!_available.ContainsKey(segment.Number) && !pending.ContainsKey(segment.Number))
                                {
                                    pending[segment.Number] = (segment.Uri, listed);
                                    if (first)
                                    {
                                        _initial.Add(segment.Number);
                                    }
                                }
                            }

                            first = false;
                        }
                    }

                    foreach (var (number, (uri, listed)) in pending.ToArray())
                    {
                        using var segment = await http.GetAsync(new Uri(variant, uri), cancellationToken);
                        await segment.Content.ReadAsByteArrayAsync(cancellationToken);
                        if (segment.IsSuccessStatusCode)
                        {
                            _available[number] = listed;
                            pending.Remove(number);
                        }
                        else
                        {
                            pending[number] = (uri, Stopwatch.GetTimestamp()); // fetchable only later: its time is the retry's
                        }
                    }

                    var wait = poll - Stopwatch.GetElapsedTime(asked);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, cancellationToken);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // the push is over
            }
        }

        private async Task<Uri> VariantAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                using var response = await http.GetAsync(master, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    var line = (await response.Content.ReadAsStringAsync(cancellationToken)).Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0 && !l.StartsWith('#'));
                    if (line is not null)
                    {
                        return new Uri(master, line);
                    }
                }

                await Task.Delay(poll, cancellationToken);
            }
        }
    }
}
