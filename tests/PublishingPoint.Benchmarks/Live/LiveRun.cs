using System.Diagnostics;
using System.Globalization;

namespace PublishingPoint.Benchmarks.Live;

/// <summary>How a live run is shaped: channels (each the three-rendition ladder + audio), viewers, how long, how often to sample.</summary>
internal sealed record LiveRunOptions(int Channels, int ViewersPerChannel, TimeSpan Duration)
{
    /// <summary>CPU is measured after this (start-up, the first fragments); RSS is sampled all along.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(6);

    public TimeSpan SampleEvery { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan PollEvery { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Replay the recorded encoder bodies from this process (lean) instead of an ffmpeg process per channel.</summary>
    public bool Replay { get; init; }
}

/// <summary>What one live run measured.</summary>
internal sealed record LiveRunResult(
    int Channels,
    int Viewers,
    double Seconds,
    long IdleRssBytes,
    IReadOnlyList<(double Seconds, long RssBytes)> RssSamples,
    double CpuPercent,
    long FinalRssBytes,
    long BytesInMemory,
    int Tracks,
    int FragmentsObserved,
    int LateFragments,
    double WorstLatenessSeconds,
    int SegmentErrors,
    int PlaylistErrors,
    int EncoderStalls,
    int EncoderExits,
    long SegmentsFetched,
    long BytesFetched,
    IReadOnlyList<string> Problems)
{
    /// <summary>CPU of this process (the replaying encoders and the viewers), % of one core, over the same time as <see cref="CpuPercent"/>.</summary>
    public double ClientCpuPercent { get; init; }

    /// <summary>The server's RssAnon before the push and at the end (see <see cref="ProcessSample.AnonBytes"/>).</summary>
    public (long Idle, long Final) AnonBytes { get; init; }

    /// <summary>Segments that arrived whole later than a player would play them (see <see cref="ChannelWatch.SlowSegments"/>).</summary>
    public int SlowSegments { get; init; }

    /// <summary>The longest from a segment's listing to its last byte at a viewer (its download queue included).</summary>
    public double WorstDeliverySeconds { get; init; }

    /// <summary>CPU of the server process in % of one core, per channel.</summary>
    public double CpuPercentPerChannel => CpuPercent / Channels;

    public double RssMegabytesPerChannel => FinalRssBytes / 1e6 / Channels;

    /// <summary>Least-squares slope of RSS in MB per minute over the samples taken at or after <paramref name="from"/> seconds.</summary>
    public double RssSlopeMegabytesPerMinute(double from)
    {
        var points = RssSamples.Where(s => s.Seconds >= from).ToArray();
        if (points.Length < 2)
        {
            return 0;
        }

        var meanX = points.Average(p => p.Seconds);
        var meanY = points.Average(p => p.RssBytes / 1e6);
        var num = points.Sum(p => (p.Seconds - meanX) * ((p.RssBytes / 1e6) - meanY));
        var den = points.Sum(p => (p.Seconds - meanX) * (p.Seconds - meanX));
        return den == 0 ? 0 : num / den * 60;
    }
}

/// <summary>
/// The live engine of the channels, memory and soak benchmarks (and the CI soak test): pushes N channels into a
/// running server, each with its own ffmpeg (<c>-re -c copy</c>, three renditions + audio), while
/// <c>ViewersPerChannel</c> HLS viewers per channel pull every playlist and segment; samples the server's CPU
/// and RSS; reports errors, late fragments and encoder stalls.
/// </summary>
internal static class LiveRun
{
    public const int Renditions = 3;

    public static async Task<LiveRunResult> RunAsync(LiveServer server, string input, LiveRunOptions options, Action<string>? log, CancellationToken cancellationToken)
    {
        var idle = server.Sample();
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 4096, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20) };
        // An encoder's POST is answered when its body ends: no timeout.
        using var push = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 4096 }) { Timeout = Timeout.InfiniteTimeSpan };
        var recordings = options.Replay ? await LiveRecording.EnsureAsync(input, cancellationToken) : null;
        var watches = new List<ChannelWatch>();
        var encoders = new List<ILiveEncoder>();
        var self = Process.GetCurrentProcess();
        var clientCpuStart = TimeSpan.Zero;
        var viewers = new List<Task>();
        using var stopViewers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var clock = Stopwatch.StartNew();
        var startUtc = DateTime.UtcNow;
        var probe = DelayProbe.Start(clock, stopViewers.Token);
        var samples = new List<(double, long)>();
        ProcessSample? cpuStart = null;
        ProcessSample last;
        var clientCpu = TimeSpan.Zero;
        DateTime endUtc;
        (long Bytes, int Tracks, int Points) memory;
        try
        {
            for (var c = 0; c < options.Channels; c++)
            {
                var point = new Uri(server.BaseUrl, $"live/ch{c + 1}.isml/");
                if (recordings is not null && c > 0)
                {
                    // Encoders are not in phase: replayed channels start spread over one fragment, as ffmpeg processes do by starting one after another.
                    await Task.Delay(TimeSpan.FromSeconds(LiveLadder.FragmentSeconds / options.Channels), cancellationToken);
                }

                encoders.Add(recordings is null ? LiveEncoder.Start(input, point, fullLadder: true) : ReplayEncoder.Start(push, recordings, point));
                var watch = new ChannelWatch($"ch{c + 1}");
                watches.Add(watch);
                for (var v = 0; v < options.ViewersPerChannel; v++)
                {
                    var viewer = new HlsViewer(http, new Uri(point, "master.m3u8"), Renditions, watch, options.PollEvery);
                    viewers.Add(Task.Run(() => viewer.RunAsync(stopViewers.Token), CancellationToken.None));
                }
            }

            var nextSample = TimeSpan.Zero;
            while (true)
            {
                var now = clock.Elapsed;
                if (cpuStart is null && now >= options.WarmUp)
                {
                    cpuStart = server.Sample();
                    self.Refresh();
                    clientCpuStart = self.TotalProcessorTime;
                }

                if (now >= nextSample)
                {
                    var s = server.Sample();
                    samples.Add((now.TotalSeconds, s.RssBytes));
                    nextSample += options.SampleEvery;
                    log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                        $"  {now.TotalSeconds,6:F0} s  RSS {s.RssBytes / 1e6,7:F1} MB  segments fetched {watches.Sum(w => w.SegmentsFetched),7}  errors {watches.Sum(w => w.SegmentErrors + w.PlaylistErrors)}  client late by up to {probe.Worst.Seconds:F2} s"));
                }

                if (now >= options.Duration)
                {
                    break;
                }

                if (server.HasExited)
                {
                    throw new InvalidOperationException($"the server exited:\n{server.Output}");
                }

                var wait = TimeSpan.FromMilliseconds(Math.Min(250, Math.Max(1, (options.Duration - now).TotalMilliseconds)));
                await Task.Delay(wait, cancellationToken);
            }

            last = server.Sample();
            self.Refresh();
            clientCpu = self.TotalProcessorTime - clientCpuStart;
            samples.Add((clock.Elapsed.TotalSeconds, last.RssBytes));
            memory = await server.FragmentBytesInMemoryAsync(cancellationToken);
            endUtc = DateTime.UtcNow;
        }
        catch
        {
            await stopViewers.CancelAsync();
            await Task.WhenAll(viewers);
            foreach (var encoder in encoders)
            {
                await encoder.DisposeAsync();
            }

            throw;
        }

        await stopViewers.CancelAsync();
        await Task.WhenAll(viewers);
        await probe.StopAsync();

        var problems = new List<string>();
        if (probe.Worst.Seconds > 0.5)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"this process ran its work up to {probe.Worst.Seconds:F2} s late (at {probe.Worst.At:F0} s): lateness up to that much may be the benchmark's"));
        }

        var stalls = 0;
        var exits = 0;
        foreach (var (encoder, i) in encoders.Select((e, i) => (e, i)))
        {
            var lag = encoder.MaxLagSeconds;
            if (encoder.ExitedEarly)
            {
                exits++;
                problems.Add($"ch{i + 1}: the encoder stopped early: {encoder.Messages}");
            }
            else if (lag > LiveLadder.FragmentSeconds)
            {
                stalls++;
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"ch{i + 1}: the encoder fell {lag:F1} s behind real time"));
            }

            await encoder.DisposeAsync();
        }

        // Without viewers nothing is watched: only the encoders' progress tells whether the server kept up.
        var lateness = watches.Select(w => options.ViewersPerChannel == 0 ? new Lateness(0, 0, 0, 0) : w.Measure(endUtc, LiveLadder.FragmentSeconds)).ToArray();
        foreach (var (l, w) in lateness.Zip(watches))
        {
            if (l.Late > 0)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"{w.Name}: {l.Late} late fragments ({l.Overdue} never listed), worst {l.WorstSeconds:F2} s beyond its usual delay"));
            }
        }

        var summaries = 0;
        if (LateTimeline(lateness, startUtc) is { } timeline)
        {
            problems.Insert(0, timeline);
            summaries++;
        }

        var slow = watches.Sum(w => w.SlowSegments);
        if (slow > 0)
        {
            var buckets = watches.SelectMany(w => w.SlowAtUtc).GroupBy(at => (int)((at - startUtc).TotalSeconds / 5)).OrderBy(g => g.Key)
                .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key * 5}-{g.Key * 5 + 5} s: {g.Count()}"));
            problems.Insert(0, string.Create(CultureInfo.InvariantCulture,
                $"{slow} segments arrived later than a player would play them (worst {watches.Max(w => w.WorstDeliverySeconds):F2} s), by time in the step: {string.Join(", ", buckets)}"));
            summaries++;
        }

        // Errors next to the summaries, ahead of the per-channel lines: a reader of the first few sees what failed.
        problems.InsertRange(summaries, watches.SelectMany(w => w.ErrorSamples).Take(5));
        var start = cpuStart ?? idle;
        var cpu = (last.CpuSeconds - start.CpuSeconds) / (last.At - start.At).TotalSeconds * 100;
        var clientCpuPercent = clientCpu.TotalSeconds / (last.At - start.At).TotalSeconds * 100;
        return new LiveRunResult(options.Channels, options.Channels * options.ViewersPerChannel, clock.Elapsed.TotalSeconds, idle.RssBytes, samples, cpu,
            last.RssBytes, memory.Bytes, memory.Tracks, lateness.Sum(l => l.Observed), lateness.Sum(l => l.Late),
            lateness.Length == 0 ? 0 : lateness.Max(l => l.WorstSeconds), watches.Sum(w => w.SegmentErrors), watches.Sum(w => w.PlaylistErrors),
            stalls, exits, watches.Sum(w => w.SegmentsFetched), watches.Sum(w => w.BytesFetched), problems)
        {
            ClientCpuPercent = clientCpuPercent,
            SlowSegments = slow,
            WorstDeliverySeconds = watches.Count == 0 ? 0 : watches.Max(w => w.WorstDeliverySeconds),
            AnonBytes = (idle.AnonBytes, last.AnonBytes),
        };
    }

    /// <summary>Late listings counted by 5 s of the step, with how many channels each had: null when none was late.</summary>
    private static string? LateTimeline(IReadOnlyList<Lateness> lateness, DateTime startUtc)
    {
        var buckets = lateness.SelectMany((l, channel) => l.LateListedUtc.Select(at => (Bucket: (int)((at - startUtc).TotalSeconds / 5), Channel: channel)))
            .GroupBy(x => x.Bucket).OrderBy(g => g.Key)
            .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key * 5}-{g.Key * 5 + 5} s: {g.Count()} on {g.Select(x => x.Channel).Distinct().Count()} ch"))
            .ToArray();
        return buckets.Length == 0 ? null : "late listings by time in the step: " + string.Join(", ", buckets);
    }
}
