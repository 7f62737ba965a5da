using System.Net;
using System.Net.Sockets;
using System.Text;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Admin;

/// <summary>Every abuse limit is configurable and refuses with a clear status without harming what is running.</summary>
public sealed class LimitsTests
{
    [Fact]
    public async Task MaxPoints_MaxStreams_MaxTracks_AreEnforced()
    {
        await using var server = await RunningServer.StartAsync(null,
            "--PublishingPoint:MaxPoints=1", "--PublishingPoint:MaxStreamsPerPoint=1", "--PublishingPoint:MaxTracksPerStream=1");
        var capture = await IsmvCapture.SixSecondsAsync(); // video + audio: two tracks
        var (tracks, body) = await Posting.PostChunkedAsync(server.Http, "live/one.isml/Streams(a)", capture);
        Assert.Equal(HttpStatusCode.BadRequest, tracks);
        Assert.Contains("at most 1", body, StringComparison.Ordinal);

        var videoOnly = await IsmvCapture.MakeAsync(2, 300, 0);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/one.isml/Streams(a)", videoOnly)).Status);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await Posting.PostChunkedAsync(server.Http, "live/one.isml/Streams(b)", videoOnly)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/one.isml/Streams(a)", videoOnly)).Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await Posting.PostChunkedAsync(server.Http, "live/two.isml/Streams(a)", videoOnly)).Status);
        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/one.isml/Manifest");
        Assert.Single(manifest.ChunkTimes("video"));
    }

    /// <summary>
    /// The room for a new point was checked before the point was made, outside any lock: pushes to new paths at the
    /// same moment could all pass the check, and the server held more points than MaxPoints (a review's finding; the
    /// window, a folder's creation, was too narrow to hit from HTTP here). The registry's creation checks and adds
    /// in one step now: 32 threads creating 32 paths at once make 2 points, the rest are refused with 503.
    /// </summary>
    [Fact]
    public async Task ConcurrentCreationsOfNewPaths_MakeNoMoreThanMaxPoints()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxPoints=2");
        var registry = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>(server.Services);
        const int Threads = 32;
        var paths = Enumerable.Range(0, Threads).Select(i => PublishingPoint.Server.Points.PointPath.TryParse($"live/race{i}.isml", out var path, out _) ? path : null).ToList();
        Assert.All(paths, Assert.NotNull);
        var statuses = Racing(Threads, i => registry.GetOrCreate(paths[i]!));

        Assert.Equal(2, registry.All.Count);
        Assert.Equal(2, statuses.Count(s => s == 200));
        Assert.Equal(Threads - 2, statuses.Count(s => s == 503));
    }

    /// <summary>
    /// Two operators creating one path at once both got 201 and the last settings won (a review's finding), and an
    /// encoder could meet the point before its settings (its own ingest secret) were set. One creation makes it, with
    /// its settings already in place; the others find it.
    /// </summary>
    [Fact]
    public async Task ConcurrentCreationsOfOnePath_OneCreatesIt_WithItsSettings()
    {
        await using var server = await RunningServer.StartAsync();
        var registry = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>(server.Services);
        Assert.True(PublishingPoint.Server.Points.PointPath.TryParse("live/once.isml", out var path, out _));
        const int Threads = 16;
        var results = new (PublishingPoint.Server.Points.Point Point, bool Created)[Threads];
        var settings = Enumerable.Range(0, Threads).Select(i => new PublishingPoint.Server.Points.PointSettings { DvrWindowSeconds = 60 + i, IngestSecret = $"secret-{i}" }).ToArray();
        Assert.All(Racing(Threads, i => results[i] = registry.Create(path, settings[i])), status => Assert.Equal(200, status));

        var creator = Assert.Single(Enumerable.Range(0, Threads), i => results[i].Created);
        Assert.All(results, r => Assert.Same(results[creator].Point, r.Point));
        Assert.Same(settings[creator], results[creator].Point.Settings);
    }

    /// <summary>
    /// MaxStreamsPerPoint was checked before the connection was counted, outside the point's lock: encoders connecting
    /// new stream ids at once could all pass (a review's finding). The point counts and checks in one step now, and a
    /// point deleted meanwhile takes no connection (503: the encoder connects again and makes a new one).
    /// </summary>
    [Fact]
    public async Task ConcurrentConnectionsOfNewStreams_MakeNoMoreThanMaxStreamsPerPoint()
    {
        await using var server = await RunningServer.StartAsync();
        var registry = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>(server.Services);
        Assert.True(PublishingPoint.Server.Points.PointPath.TryParse("live/streams.isml", out var path, out _));
        var point = registry.GetOrCreate(path);
        const int Threads = 32;
        var statuses = Racing(Threads, i => point.Connect($"s{i}", DateTimeOffset.UtcNow, maxConnections: 4, maxStreams: 2));

        Assert.Equal(2, point.Streams().Length);
        Assert.Equal(2, statuses.Count(s => s == 200));
        Assert.Equal(Threads - 2, statuses.Count(s => s == 429));

        point.Dispose();
        var deleted = Assert.Throws<PublishingPoint.Server.Points.PointRuleException>(() => point.Connect("s0", DateTimeOffset.UtcNow));
        Assert.Equal(503, deleted.StatusCode);
        Assert.True(point.ClosingToken.IsCancellationRequested);
    }

    /// <summary>
    /// Nothing but MinFreeDiskBytes bounded a point's disk: one holder of a point's secret could fill it, and then every
    /// point got 507. With MaxPointDiskBytes a point past it gets 507 alone; what it had is kept and served.
    /// </summary>
    [Fact]
    public async Task APointPastMaxPointDiskBytes_Gets507_TheOthersGoOn()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxPointDiskBytes=500000");
        var large = await IsmvCapture.MakeAsync(20, 400, 64);
        Assert.True(large.Length > 700_000, $"{large.Length} bytes");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/full.isml/Streams(a)", large);
        Assert.Equal(HttpStatusCode.InsufficientStorage, status);
        Assert.Contains("MaxPointDiskBytes", body, StringComparison.Ordinal);
        var kept = await SmoothManifestView.FetchAsync(server.Http, "live/full.isml/Manifest");
        Assert.NotEmpty(kept.ChunkTimes("video"));
        var onDisk = Directory.GetFiles(Path.Combine(server.DataPath, "live", "full.isml"), "*.ismv").Sum(f => new FileInfo(f).Length);
        Assert.InRange(onDisk, 1, 500_000);

        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/other.isml/Streams(a)", await IsmvCapture.SixSecondsAsync())).Status);
    }

    [Fact]
    public async Task SlowlorisBelowTheRateFloor_IsCut()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MinIngestBytesPerSecond=50000", "--PublishingPoint:IngestIdleTimeoutSeconds=60");
        var capture = await IsmvCapture.SixSecondsAsync();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.BaseUrl.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /live/slow.isml/Streams(a) HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
        var cut = false;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            // 100 bytes a second, far under the 50 kB/s floor: Kestrel must drop us after its 5 s grace.
            for (var at = 0; at < capture.Length && clock.Elapsed < TimeSpan.FromSeconds(20); at += 100)
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes("64\r\n"));
                await stream.WriteAsync(capture.AsMemory(at, 100));
                await stream.WriteAsync("\r\n"u8.ToArray());
                await Task.Delay(1000);
                if (client.Client.Poll(0, SelectMode.SelectRead))
                {
                    cut = true;
                    break;
                }
            }
        }
        catch (IOException)
        {
            cut = true;
        }

        Assert.True(cut, "a body trickling under the rate floor was never cut");
        Assert.InRange(clock.Elapsed.TotalSeconds, 4, 15);
    }

    /// <summary>Runs <paramref name="act"/> on that many threads released at once; each one's status: 200, or the refusal's.</summary>
    private static int[] Racing(int threads, Action<int> act)
    {
        using var start = new Barrier(threads);
        var statuses = new int[threads];
        var running = Enumerable.Range(0, threads).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            try
            {
                act(i);
                statuses[i] = 200;
            }
            catch (PublishingPoint.Server.Points.PointRuleException e)
            {
                statuses[i] = e.StatusCode;
            }
        })).ToList();
        running.ForEach(t => t.Start());
        running.ForEach(t => t.Join());
        return statuses;
    }
}
