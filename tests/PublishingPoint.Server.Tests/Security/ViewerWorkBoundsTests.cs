using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Delivery;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>
/// Work a viewer's request starts on the server, bounded per client network (a review of what an unauthenticated
/// client can make the server do). A segment's production goes on when the request that started it is aborted (so one
/// player's hang-up cannot fail the others waiting for it): a client asking for distinct archived segments and hanging
/// up at once started runs faster than they ended, each holding its segment's bytes. A client network that left
/// PublishingPoint:MaxProductionsPerAddress runs going may start no other until they end (503); one that waits for
/// its segments is never refused. And a TS start-over's
/// I-frame playlist looked over the whole archive before its render's turn, for every distinct query: four at once per
/// client now, as the render gate's share; past it, 429.
/// </summary>
public sealed class ViewerWorkBoundsTests
{
    private const string Point = "live/crowd.isml";

    [Fact]
    public async Task AClientHangingUpOnDistinctSegments_StartsNoMoreThanItsBound_AndAnotherClientIsServed()
    {
        var data = await FinishedEventAsync();

        // Started again: every segment is made from the archive, whose reads wait at a gate here (a slow disk).
        await using var server = await RunningServer.StartAsync(data, "--PublishingPoint:MaxProductionsPerAddress=2");
        var media = await server.Http.GetStringAsync($"{Point}/hls/video-300000.m3u8");
        var segments = HlsText.Segments(media).Select(s => $"{Point}/hls/{s.Uri}").ToList();
        Assert.True(segments.Count >= 7, media);
        var cache = server.Services.GetRequiredService<SegmentCache>();
        using var disk = new SlowDisk(server);
        using var other = new HttpClient(FromAddress(IPAddress.Parse("127.0.0.2"))) { BaseAddress = server.Http.BaseAddress };

        // Hanging up on a segment another client's request is making leaves nothing of one's own going: a crowd
        // that gives up on one slow segment (players switching down) is not charged for it.
        var othersRun = other.GetAsync(segments[5]);
        await Eventually.WaitUntilAsync(() => Task.FromResult(disk.Reads >= 1), "the other client's production never started");
        using (var giveUp = new CancellationTokenSource())
        {
            var asked = cache.Requests;
            var joined = Enumerable.Range(0, 3).Select(_ => server.Http.GetAsync(segments[5], giveUp.Token)).ToList();
            await Eventually.WaitUntilAsync(() => Task.FromResult(cache.Requests >= asked + 3), "the three requests never joined the run");
            await giveUp.CancelAsync();
            foreach (var request in joined)
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
            }
        }

        var waited = server.Http.GetAsync(segments[6]);
        await Eventually.WaitUntilAsync(() => Task.FromResult(disk.Reads >= 2), "the client was refused a production for runs it only joined");

        // Three segments asked for at once by a client that waits for them (a CDN's edge fetching for many
        // viewers): more than the bound, all taken.
        using var hangUp = new CancellationTokenSource();
        var abandoned = segments.Take(3).Select(s => server.Http.GetAsync(s, hangUp.Token)).ToList();
        await Eventually.WaitUntilAsync(() => Task.FromResult(disk.Reads >= 5), $"{disk.Reads - 2} of the three productions started");

        // It hangs up on them while they are being made: their runs go on, and it may start no more until they end.
        await hangUp.CancelAsync();
        foreach (var request in abandoned)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        }

        await Eventually.WaitUntilAsync(() => Task.FromResult(cache.OrphanedRuns == 3), $"the server saw {cache.OrphanedRuns} of the three left");
        using var refused = await GetWithinAsync(server.Http, segments[3]);
        var problem = await refused.Content.ReadAsStringAsync();
        Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)refused.StatusCode} {problem}");
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Contains("MaxProductionsPerAddress", problem, StringComparison.Ordinal);

        // Another client is not held back by this one's bound: its request is taken, and answered once the disk is.
        var served = other.GetAsync(segments[4]);
        await Eventually.WaitUntilAsync(() => Task.FromResult(disk.Reads >= 6), "the other client's production never started");
        disk.Open();
        foreach (var request in new[] { served, othersRun, waited })
        {
            using var answer = await request;
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        await Eventually.WaitUntilAsync(() => Task.FromResult(cache.OrphanedBytes == 0), $"{cache.OrphanedBytes} bytes of left productions still counted");
        using var later = await server.Http.GetAsync(segments[3]);
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }

    [Fact]
    public async Task DistinctStartOverIFramePlaylists_FromOneClient_TakeFourAtOnce_AndAnotherClientIsServed()
    {
        var data = await FinishedEventAsync();

        // Started again: the I-frame ranges are read from the archive (a frame of each segment), at a gate here.
        await using var server = await RunningServer.StartAsync(data);
        using var disk = new SlowDisk(server);
        using var other = new HttpClient(FromAddress(IPAddress.Parse("127.0.0.2"))) { BaseAddress = server.Http.BaseAddress };

        // Each start before the event is a query of its own over the whole archive.
        var taken = Enumerable.Range(1, 4).Select(start => server.Http.GetAsync($"{Point}/hls/video-300000-iframes.m3u8?start={start}")).ToList();
        var preparing = server.Services.GetRequiredService<ShiftedOutputs>().Preparing;
        await Eventually.WaitUntilAsync(() => Task.FromResult(preparing.Admitted == 4), $"{preparing.Admitted} of the four start-overs took their share");
        using var refused = await GetWithinAsync(server.Http, $"{Point}/hls/video-300000-iframes.m3u8?start=5");
        var problem = await refused.Content.ReadAsStringAsync();
        Assert.True(refused.StatusCode == HttpStatusCode.TooManyRequests, $"{(int)refused.StatusCode} {problem}");
        Assert.NotNull(refused.Headers.RetryAfter);

        var served = other.GetAsync($"{Point}/hls/video-300000-iframes.m3u8?start=6");
        disk.Open();
        foreach (var request in taken.Append(served))
        {
            using var answer = await request;
            var playlist = await answer.Content.ReadAsStringAsync();
            Assert.True(answer.StatusCode == HttpStatusCode.OK, $"{(int)answer.StatusCode} {playlist}");
            Assert.Contains("#EXT-X-I-FRAMES-ONLY", playlist, StringComparison.Ordinal);
        }
    }

    // A finished 20 s event in a data folder of its own: a server started on it makes every segment from the archive.
    private static async Task<string> FinishedEventAsync()
    {
        var data = TempDirectory.Create("pp-data");
        await using var first = await RunningServer.StartAsync(data);
        var (status, body) = await Posting.PostChunkedAsync(first.Http, $"{Point}/Streams(a)", await IsmvCapture.MakeAsync(20, 300, 64));
        Assert.True(status == HttpStatusCode.OK, body);
        return data;
    }

    // Every archive read of the server is counted and waits at a gate until it is opened (a slow disk).
    private sealed class SlowDisk : IDisposable
    {
        private readonly SemaphoreSlim _gate = new(0);
        private readonly PointRegistry _registry;
        private int _reads;

        public SlowDisk(RunningServer server)
        {
            _registry = server.Services.GetRequiredService<PointRegistry>();
            _registry.ArchiveFiles.ReadFault = _ =>
            {
                Interlocked.Increment(ref _reads);
                _gate.Wait(TimeSpan.FromSeconds(30));
                return false;
            };
        }

        public int Reads => Volatile.Read(ref _reads);

        public void Open() => _gate.Release(100_000);

        public void Dispose()
        {
            Open();
            _registry.ArchiveFiles.ReadFault = null;
            _gate.Dispose();
        }
    }

    // A refusal comes at once; a request the bound let through would wait at the gate (a clear failure, not a hang).
    private static async Task<HttpResponseMessage> GetWithinAsync(HttpClient http, string url)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            return await http.GetAsync(url, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Assert.Fail($"{url} was not refused: it waits past the client's bound");
            throw;
        }
    }

    // A client on another loopback address (Linux routes all of 127.0.0.0/8 to lo): another client network to the server.
    private static SocketsHttpHandler FromAddress(IPAddress local) => new()
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}
