using System.Buffers.Binary;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Ingest;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>What ingest holds in memory is what arrived, and bounded per connection, per point and per server.</summary>
public sealed class IngestBoundsTests
{
    [Fact]
    public async Task TrickledHugeBoxes_HoldOnlyWhatArrived()
    {
        await using var server = await RunningServer.StartAsync();
        var memory = server.Services.GetRequiredService<IngestMemory>();
        var heapBefore = GC.GetGCMemoryInfo(GCKind.Any).HeapSizeBytes;
        var pushes = new List<HeldPush>();
        try
        {
            for (var i = 0; i < 16; i++)
            {
                var push = await HeldPush.StartAsync(server.BaseUrl, $"/live/trickle{i}.isml/Streams(a)");
                await push.SendAsync(BoxHeader("moof", 60 * 1024 * 1024));
                await push.SendAsync(new byte[10_000]);
                pushes.Add(push);
            }

            await Eventually.WaitUntilAsync(() => memory.Total >= 16 * 10_000, "the trickled bytes never arrived");
            // Announced: 16 x 60 MB. Held: what arrived, in buffers that double as it comes (64 KB each here).
            Assert.InRange(memory.Total, 16 * 10_000, 16 * 128 * 1024);
            GC.Collect();
            var grown = GC.GetGCMemoryInfo(GCKind.Any).HeapSizeBytes - heapBefore;
            Assert.True(grown < 300L * 1024 * 1024, $"the managed heap grew by {grown / (1024 * 1024)} MB");
        }
        finally
        {
            foreach (var push in pushes)
            {
                await push.DisposeAsync();
            }
        }

        await Eventually.WaitUntilAsync(() => memory.Total == 0, $"{memory.Total} bytes still held after the clients left");
    }

    /// <summary>
    /// A track stays for its point's life (in playlists, the API and a metric series each). A review found no bound on a
    /// point's tracks beyond each header's: streams and header runs with new bit rates could gather thousands. A header
    /// that would take a point past MaxTracksPerPoint is refused with 409, and the point keeps what it had.
    /// </summary>
    [Fact]
    public async Task AHeaderThatWouldPassMaxTracksPerPoint_Gets409_AndThePointKeepsItsTracks()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxTracksPerPoint=4", "--PublishingPoint:MaxTracksPerStream=2");
        var registry = server.Services.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>();
        var accepted = 0;
        HttpStatusCode last = default;
        string text = "";
        foreach (var kbps in new[] { 200, 250, 300, 350, 400 })
        {
            // Each its own stream and video bit rate; the audio is the same each time, one track
            (last, text) = await Posting.PostChunkedAsync(server.Http, $"live/many.isml/Streams(s{kbps})", await IsmvCapture.MakeAsync(2, kbps, 64));
            if (last != HttpStatusCode.OK)
            {
                break;
            }

            accepted++;
        }

        Assert.Equal(HttpStatusCode.Conflict, last);
        Assert.Contains("MaxTracksPerPoint", text, StringComparison.Ordinal);
        Assert.Equal(3, accepted); // audio and 200, then 250, then 300: four tracks
        Assert.Equal(4, registry.Find("live/many.isml")!.Tracks().Length);
    }

    /// <summary>
    /// A version-0 'emsg' waits for the fragment it is timed from. A review found the waiting ones outside every bound
    /// (64 of 64 KB a connection, released from its account as soon as read). They are held on the connection's
    /// account now, at most 1 MB of them; the rest are skipped with a log line, and the media goes on.
    /// </summary>
    [Fact]
    public async Task WaitingEvents_AreHeldOnTheConnectionsAccount_AndThoseBeyondAMegabyteSkipped()
    {
        var log = new LogCapture();
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(log));
        var memory = server.Services.GetRequiredService<IngestMemory>();
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.CaptureAsync(Encoder.CmafPushArguments, new EncoderSettings { Seconds = 6, RealTime = false }));
        await using var push = await HeldPush.StartAsync(server.BaseUrl, "/live/waiting.isml/Streams(cmaf)");
        await push.SendAsync(header);
        await push.SendAsync(fragments[0]);
        for (var i = 0; i < 64; i++)
        {
            await push.SendAsync(new EmsgBox(0, "urn:x:wait", "", 1000, 500, 0, (uint)i, new byte[60 * 1024]).Write());
        }

        await Eventually.WaitUntilAsync(() => log.Entries.Any(e => e.Message.Contains("urn:x:wait", StringComparison.Ordinal) && e.Message.Contains("skipped", StringComparison.Ordinal)),
            "no waiting event was skipped");
        // The held events within their megabyte, beside what the connection is reading: the next box, up to a 64 KB chunk
        // (a fresh-clone CI run found the 1 MB alone exceeded by 58,812 bytes at the moment of the skip's log line).
        Assert.InRange(memory.Total, 16 * 60 * 1024, (1024 * 1024) + (128 * 1024));

        foreach (var fragment in fragments.Skip(1))
        {
            await push.SendAsync(fragment);
        }

        Assert.Equal(200, await push.FinishAsync());
        Assert.Equal(0, memory.Total);
        var placed = server.Services.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>().Find("live/waiting.isml")!.Events();
        Assert.Contains(placed, e => e.Scheme == "urn:x:wait");
    }

    [Fact]
    public async Task ConnectionsThatTogetherHoldTooMuch_Get503_AndTheServerRecovers()
    {
        const int Mb = 1024 * 1024;
        await using var server = await RunningServer.StartAsync(null, $"--PublishingPoint:MaxBoxBytes={Mb}",
            $"--PublishingPoint:MaxIngestBytesPerConnection={2 * Mb}", $"--PublishingPoint:MaxIngestBytesPerPoint={2 * Mb}",
            $"--PublishingPoint:MaxIngestBytesPerServer={3 * Mb}");
        var memory = server.Services.GetRequiredService<IngestMemory>();
        var holders = new List<HeldPush>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var push = await HeldPush.StartAsync(server.BaseUrl, $"/live/hold{i}.isml/Streams(a)");
                await push.SendAsync(BoxHeader("moof", Mb));
                await push.SendAsync(new byte[Mb - 100_000]);
                holders.Add(push);
            }

            await Eventually.WaitUntilAsync(() => memory.Total == 3L * Mb, $"the holders hold {memory.Total} bytes");
            await using var fourth = await HeldPush.StartAsync(server.BaseUrl, "/live/hold3.isml/Streams(a)");
            await fourth.SendAsync(BoxHeader("moof", Mb));
            await fourth.SendAsync(new byte[100_000]);
            Assert.Equal(503, await fourth.ReadStatusAsync(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            foreach (var push in holders)
            {
                await push.DisposeAsync();
            }
        }

        await Eventually.WaitUntilAsync(() => memory.Total == 0, $"{memory.Total} bytes still held after the clients left");
        var capture = await IsmvCapture.SixSecondsAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/after.isml/Streams(a)", capture)).Status);
    }

    [Fact]
    public async Task MoreConnectionsOnOneStreamThanAllowed_Get429()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxConnectionsPerStream=2");
        var capture = await IsmvCapture.SixSecondsAsync();
        var (header, _) = Boxes.SplitFragments(capture);
        await using var first = await HeldPush.StartAsync(server.BaseUrl, "/live/conn.isml/Streams(a)");
        await first.SendAsync(header);
        await using var second = await HeldPush.StartAsync(server.BaseUrl, "/live/conn.isml/Streams(a)");
        await second.SendAsync(header);
        await Eventually.WaitUntilAsync(async () => (await server.Http.GetStringAsync("api/points/live/conn.isml")).Contains("\"connections\":2", StringComparison.Ordinal),
            "the two connections never showed");
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/conn.isml/Streams(a)", capture);
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Contains("maximum of 2 connections", text, StringComparison.Ordinal);
        var (other, _) = await Posting.PostChunkedAsync(server.Http, "live/conn.isml/Streams(b)", capture);
        Assert.Equal(HttpStatusCode.OK, other);
    }

    [Fact]
    public async Task LowLatencyChunksWithoutAKeyframe_AreIndexedAtTheBound_NotPiledUp()
    {
        // 10 s GOPs of per-frame CMAF chunks; a pile is indexed once it reaches MaxBoxBytes (64 KB here), not at the next keyframe.
        var capture = await IsmvCapture.CaptureAsync(
            (target, settings) => Encoder.CmafPushArguments(target, settings).Select(a => a.Replace("frag_keyframe", "frag_every_frame", StringComparison.Ordinal)),
            new EncoderSettings { Seconds = 12, GopSeconds = 10, AudioKbps = 0, RealTime = false });
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxBoxBytes=65536");
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/pile.isml/Streams(a)", capture);
        Assert.True(status == HttpStatusCode.OK, text);
        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/pile.isml/Manifest");
        Assert.True(manifest.ChunkTimes("video").Length >= 6, $"{manifest.ChunkTimes("video").Length} video fragments from 2 GOPs of {capture.Length} bytes");
        Assert.Equal(0, server.Services.GetRequiredService<IngestMemory>().Total);
    }

    private static byte[] BoxHeader(string type, int size)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, size);
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(header, 4);
        return header;
    }
}
