using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Configuration;
using PublishingPoint.Server.Delivery;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;
using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>The repackaged-segment cache once it is full: the newest segment, the one live viewers are about to ask for, still goes in.</summary>
public sealed class SegmentCacheTests
{
    [Fact]
    public async Task FullCache_KeepsTheNewestSegment_AndDropsTheLeastRecentlyAskedFor()
    {
        var spool = new SegmentSpool(Options.Create(new PublishingPointOptions { DirectSend = false }), NullLogger<SegmentSpool>.Instance);
        using var cache = new SegmentCache(spool, sizeLimit: 10 * 1024 * 1024);
        Assert.True(PointPath.TryParse("live/cache.isml", out var path, out var error), error);
        var point = new Point(path, Path.GetTempPath());
        var track = new TrackKey("video", 2_500_000);
        var key = (long n) => new HlsSegmentKey(point, track, HlsFormat.Ts, n);
        var produce = (long n) => () => Task.FromResult(new byte[] { (byte)n });

        // Thirty segments of an estimated 1 MB each through a 10 MB cache, each asked for twice as two viewers do.
        for (var n = 0L; n < 30; n++)
        {
            Assert.Equal((byte)n, (await cache.GetOrProduceAsync(key(n), 1024 * 1024, produce(n)))[0]);
            Assert.True(cache.TryGetReady(key(n), out var again), $"segment {n} was not kept");
            again.Release();
        }

        Assert.Equal(30, cache.Produced);
        Assert.True(cache.TryGetReady(key(29), out var newest));
        newest.Release();
        Assert.False(cache.TryGetReady(key(0), out _), "the oldest segment should have made room");
    }

    /// <summary>
    /// Low-latency parts went into the cache at a flat 64 KB whatever their size, and a part of any indexed segment can be
    /// asked for: parts of large keyframes held many times the cache's bound (a review's finding). A part is accounted at
    /// no less than its bytes now, and not at its whole segment's either.
    /// </summary>
    [Fact]
    public async Task LowLatencyParts_AreAccountedAtNoLessThanTheirBytes()
    {
        await using var server = await RunningServer.StartAsync();
        const string Point = "live/parts.isml";
        var push = await Encoder.PushLowLatencyCmafAsync(server.Url($"{Point}/Streams(a)"),
            new EncoderSettings { VideoKbps = 8000, Noise = true, Width = 1280, Height = 720, AudioKbps = 0, Seconds = 6, RealTime = false });
        Assert.True(push.ExitCode == 0, Tool.Describe(push));

        var registry = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PointRegistry>(server.Services);
        var cache = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<SegmentCache>(server.Services);
        var track = Assert.Single(registry.Find(Point)!.Tracks());
        var before = cache.AccountedBytes;
        long fetched = 0;
        var parts = 0;
        foreach (var entry in track.Snapshot(out _, out _))
        {
            for (var p = 0; p < (entry.Parts?.Count ?? 0); p++)
            {
                fetched += (await server.Http.GetByteArrayAsync($"{Point}/hls/{HlsPlaylistBuilder.Name(track.Key)}/{entry.Sequence}.{p}.m4s")).Length;
                parts++;
            }
        }

        Assert.True(parts >= 10, $"{parts} parts");
        Assert.True(fetched > parts * 64L * 1024, $"{fetched} bytes in {parts} parts: not larger than the old flat guess, the test shows nothing");
        Assert.True(cache.AccountedBytes - before >= fetched, $"{cache.AccountedBytes - before} bytes accounted for {fetched} bytes of {parts} parts");

        // Nor at many times their bytes: each part counted at its whole segment's made the cache hold a tenth of what it
        // may (a review's finding), so parts of the last segments were made again and again.
        Assert.True(cache.AccountedBytes - before <= (2 * fetched) + (parts * 8192L), $"{cache.AccountedBytes - before} bytes accounted for {fetched} bytes of {parts} parts");
    }

    /// <summary>
    /// A TS segment went into the cache at twice its video fragment's length, and was never accounted at more: a segment
    /// of little video muxes all of its audio, so an audio-heavy point (a radio channel with a still picture, or an
    /// encoder that means harm) kept many times the cache's bound (a review's finding). A segment is accounted at its
    /// real size once made.
    /// </summary>
    [Fact]
    public async Task TsSegmentsOfLittleVideoAndMuchAudio_AreAccountedAtNoLessThanTheirBytes()
    {
        await using var server = await RunningServer.StartAsync();
        const string Point = "live/radio.isml";
        var capture = await IsmvCapture.MakeAsync(10, 20, 256, width: 64, height: 36);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", capture)).Status);

        var registry = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PointRegistry>(server.Services);
        var cache = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<SegmentCache>(server.Services);
        var video = registry.Find(Point)!.Tracks().Single(t => t.Description.Kind == Media.IsoBmff.TrackKind.Video);
        var before = cache.AccountedBytes;
        long fetched = 0, videoBytes = 0;
        foreach (var entry in video.Snapshot(out _, out _))
        {
            fetched += (await server.Http.GetByteArrayAsync($"{Point}/hls/{HlsPlaylistBuilder.Name(video.Key)}/{entry.Sequence}.ts")).Length;
            videoBytes += entry.Length;
        }

        Assert.True(fetched > 4 * videoBytes, $"{fetched} bytes of TS for {videoBytes} bytes of video: not over the estimate, the test shows nothing");
        Assert.True(cache.AccountedBytes - before >= fetched, $"{cache.AccountedBytes - before} bytes accounted for {fetched} bytes of TS segments");
    }

    /// <summary>
    /// A spooled copy the cache let go of stopped counting against MaxSpooledFiles at once, though a slow reader still
    /// held its descriptor and the unlinked file's disk space: readers that never finish could have copies made without
    /// bound (a review's finding). It counts until its last lease is released.
    /// </summary>
    [Fact]
    public void ASpooledCopyLetGoWhileASenderHoldsIt_CountsUntilTheSenderIsDone()
    {
        var spool = Spooling(atRequest: 1);
        var file = spool.TryWrite(RandomSegment());
        Assert.NotNull(file);
        Assert.True(file.TryLease());
        Assert.Equal(1, spool.OpenFiles);

        file.Dispose();
        Assert.False(file.TryLease());
        Assert.Equal(1, spool.OpenFiles);
        Assert.False(file.Handle.IsClosed);

        file.Release();
        Assert.Equal(0, spool.OpenFiles);
        Assert.True(file.Handle.IsClosed);

        var unleased = spool.TryWrite(RandomSegment());
        Assert.NotNull(unleased);
        unleased.Dispose();
        Assert.Equal(0, spool.OpenFiles);
    }

    [Fact]
    public async Task ConcurrentRequests_AcrossTheSpoolingRequest_AllGetTheSegment_ProducedOnce()
    {
        var spool = Spooling(atRequest: 3);
        using var cache = new SegmentCache(spool, sizeLimit: 10 * 1024 * 1024);
        var key = SegmentKey("live/spool.isml", 7);
        var segment = RandomSegment();

        // Sixty-four requests at once: whichever is third writes the spooled copy while the others read the bytes or the copy.
        var answers = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(() => cache.GetOrProduceAsync(key, segment.Length, () => Task.FromResult(segment)))));
        Assert.All(answers, a => Assert.True(segment.AsSpan().SequenceEqual(a), "a request got other bytes"));
        Assert.Equal(1, cache.Produced);
        Assert.Equal(1, spool.OpenFiles);
        Assert.True(cache.TryGetReady(key, out var ready));
        Assert.NotNull(ready.File);
        Assert.Null(ready.Buffer);
        ready.Release();
    }

    [Fact]
    public Task PooledSegment_GoesBackToItsPool_OnlyAfterTheLastAnswerFromItsBytes() =>
        Task.Run(PooledSegmentAsync); // on the pool, where a request spools at once (an event thread hands it to the pool)

    private static async Task PooledSegmentAsync()
    {
        using var cache = new SegmentCache(Spooling(atRequest: 2), sizeLimit: 10 * 1024 * 1024);
        var key = SegmentKey("live/pooled.isml", 3);
        var pool = new FragmentBufferPool();
        var segment = RandomSegment();
        Task<FragmentBuffer> Produce()
        {
            var buffer = pool.Rent(segment.Length);
            segment.CopyTo(buffer.Span);
            return Task.FromResult(buffer);
        }

        // The first viewer is answered from the bytes and is still sending them when the second one's request spools the
        // segment: the file takes the bytes' place in the cache, but the array stays the first viewer's until it is done.
        var first = await cache.GetOrProduceSegmentAsync(key, segment.Length, Produce, null, CancellationToken.None);
        Assert.NotNull(first.Buffer);
        var second = await cache.GetOrProduceSegmentAsync(key, segment.Length, Produce, null, CancellationToken.None);
        Assert.NotNull(second.File);
        Assert.Equal(1, cache.Produced);
        Assert.True(pool.LentBytes >= segment.Length, "the first answer's bytes went back to the pool under it");
        Assert.True(segment.AsSpan().SequenceEqual(first.Buffer!.Span), "the first answer's bytes changed under it");

        first.Release();
        Assert.Equal(0, pool.LentBytes);
        Assert.True(pool.IdleBytes >= segment.Length, "the bytes did not go back to their pool");
        var third = await cache.GetOrProduceSegmentAsync(key, segment.Length, Produce, null, CancellationToken.None);
        Assert.NotNull(third.File);
        Assert.Equal(segment.Length, third.Length);
        third.Release();
        second.Release();
    }

    /// <summary>
    /// The spooling request may be a cached segment's answer on an event thread, which answers every other connection
    /// of its thread: the file's creation and write (a review found three `Range: bytes=0-0` requests enough to make
    /// one) go to the pool, and that answer is sent from the bytes.
    /// </summary>
    [Fact]
    public async Task TheSpoolingRequest_OnAThreadOutsideThePool_SpoolsOnThePool_AndIsAnsweredFromTheBytes()
    {
        var spool = Spooling(atRequest: 2);
        var writers = new System.Collections.Concurrent.ConcurrentQueue<bool>();
        spool.Writing = onPool => writers.Enqueue(onPool);
        using var cache = new SegmentCache(spool, sizeLimit: 10 * 1024 * 1024);
        var key = SegmentKey("live/event.isml", 3);
        var segment = RandomSegment();
        var first = await Task.Run(() => cache.GetOrProduceSegmentAsync(key, segment.Length, () => Task.FromResult(segment), null, CancellationToken.None));
        Assert.NotNull(first.Buffer);
        first.Release();

        ReadySegment spooling = default;
        var found = false;
        var eventThread = new Thread(() => found = SpinWait.SpinUntil(() => cache.TryGetReady(key, out spooling), TimeSpan.FromSeconds(10))) { IsBackground = true };
        eventThread.Start();
        eventThread.Join();
        Assert.True(found, "the made segment was never found ready");
        spooling.Release();

        await Eventually.WaitUntilAsync(() =>
        {
            var found = cache.TryGetReady(key, out var next);
            var file = found && next.File is not null;
            if (found)
            {
                next.Release();
            }

            return Task.FromResult(file);
        }, "the segment was never spooled", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));

        // Written once, on the pool: the thread outside it (an event thread) was answered without waiting for the file
        // (from the bytes, or from the file when the pool had made it between the queueing and the look at the file).
        Assert.Equal([true], writers.ToArray());
    }

    private static SegmentSpool Spooling(int atRequest) =>
        new(Options.Create(new PublishingPointOptions { SpoolPath = TempDirectory.Create("pp-spool"), SpoolAtRequest = atRequest }), NullLogger<SegmentSpool>.Instance);

    private static HlsSegmentKey SegmentKey(string point, long sequence)
    {
        Assert.True(PointPath.TryParse(point, out var path, out var error), error);
        return new HlsSegmentKey(new Point(path, Path.GetTempPath()), new TrackKey("video", 2_500_000), HlsFormat.Ts, sequence);
    }

    private static byte[] RandomSegment()
    {
        var segment = new byte[200 * 1024];
        Random.Shared.NextBytes(segment);
        return segment;
    }
}
