using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Smooth;

/// <summary>
/// The core path with real peers: two ffmpeg encoders (two video bitrates, one of them with audio) push to one
/// point; the live manifest and every fragment are checked while they push, ffprobe decodes what we serve,
/// and after they finish the point is VOD, its archives read back with ffprobe, and a restart keeps it.
/// </summary>
public sealed class SmoothLiveToVodTests
{
    private const double PushSeconds = 10;
    private const long Second = 10_000_000;
    private static readonly byte[] Tfrf = Convert.FromHexString("d4807ef2ca3946958e5426cb9e46a79f");
    private static readonly byte[] Tfxd = Convert.FromHexString("6d1d9b0542d544e680e2141daff757b2");

    [Fact]
    public async Task TwoEncoders_LiveThenVod_ManifestFragmentsArchivesAndRestart()
    {
        var server = await RunningServer.StartAsync();
        var dataPath = server.DataPath;
        try
        {
            var high = Encoder.PushSmoothAsync(server.Url("live/ch1.isml/Streams(high)"),
                new EncoderSettings { VideoKbps = 500, Width = 640, Height = 360, AudioKbps = 64, Seconds = PushSeconds });
            var low = Encoder.PushSmoothAsync(server.Url("live/ch1.isml/Streams(low)"),
                new EncoderSettings { VideoKbps = 250, Width = 320, Height = 180, AudioKbps = 0, Seconds = PushSeconds });

            var live = await WaitForLiveManifestAsync(server, minVideoChunks: 2);
            Assert.True(live.IsLive);
            Assert.Equal([500000, 250000], live.Bitrates("video").Order().Reverse());
            Assert.Equal([64000], live.Bitrates("audio"));
            var levels = live.Stream("video").Elements("QualityLevel").ToDictionary(q => (int)q.Attribute("Bitrate")!);
            Assert.Equal("640", (string?)levels[500000].Attribute("MaxWidth"));
            Assert.Equal("180", (string?)levels[250000].Attribute("MaxHeight"));
            Assert.StartsWith("00000001", (string?)levels[500000].Attribute("CodecPrivateData"), StringComparison.Ordinal);
            Assert.Equal("48000", (string?)live.Stream("audio").Element("QualityLevel")!.Attribute("SamplingRate"));

            // Every listed live fragment is served, for every level; past the live edge is a distinct status.
            await AssertFragmentsServedAsync(server, live);
            var firstLive = await server.Http.GetByteArrayAsync(live.Url("video", 500000, live.ChunkTimes("video")[0]));
            Assert.True(firstLive.AsSpan().IndexOf(Tfrf) > 0, "a live fragment announces the next ones in a tfrf box");
            Assert.True(firstLive.AsSpan().IndexOf(Tfxd) > 0, "every fragment carries its absolute time in a tfxd box");

            // FragmentInfo (IIS's, which dash.js asks for to learn of later fragments): the same fragment's 'moof' alone.
            var info = await server.Http.GetByteArrayAsync(live.Url("video", 500000, live.ChunkTimes("video")[0]).Replace("/Fragments(", "/FragmentInfo(", StringComparison.Ordinal));
            Assert.Equal(["moof"], Boxes.TopLevel(info).Select(b => b.Type));
            Assert.Equal(firstLive.AsSpan(0, info.Length).ToArray(), info);
            var lastVideo = live.ChunkTimes("video")[^1];
            using (var beyond = await server.Http.GetAsync(live.Url("video", 500000, lastVideo + (3600 * Second))))
            {
                Assert.Equal(HttpStatusCode.PreconditionFailed, beyond.StatusCode);
            }

            using (var unknown = await server.Http.GetAsync(live.Url("video", 500000, live.ChunkTimes("video")[0] + 1)))
            {
                Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            }

            var pushes = await Task.WhenAll(high, low);
            Assert.All(pushes, p => Assert.True(p.ExitCode == 0, Tool.Describe(p)));

            var vod = await SmoothManifestView.FetchVodAsync(server.Http, "live/ch1.isml/Manifest");
            Assert.False(vod.IsLive);
            Assert.InRange(vod.Duration, (long)((PushSeconds - 2) * Second), (long)((PushSeconds + 2) * Second));
            Assert.InRange(vod.ChunkDurations("video").Sum(), (long)((PushSeconds - 2) * Second), (long)((PushSeconds + 2) * Second));
            await AssertFragmentsServedAsync(server, vod);
            // A client that joined live reads no manifest again (dash.js): the fragments of the finished point still
            // announce the ones after them, so it plays to the end; the last one announces none.
            var vodTimes = vod.ChunkTimes("video");
            var vodFragment = await server.Http.GetByteArrayAsync(vod.Url("video", 500000, vodTimes[^3]));
            Assert.True(vodFragment.AsSpan().IndexOf(Tfrf) > 0, "a finished point's fragment announces the next ones in a tfrf box");
            Assert.Equal(new[] { vodTimes[^2], vodTimes[^1] }, TfrfTimes(vodFragment));
            using var last = await server.Http.GetAsync(vod.Url("video", 500000, vodTimes[^1]));
            Assert.Empty(TfrfTimes(await last.Content.ReadAsByteArrayAsync())); // an empty tfrf: dash.js takes a live fragment without one for an error
            // Not immutable: the encoder may go on, and then this fragment announces the next ones.
            Assert.True(last.Headers.CacheControl is { MaxAge.TotalSeconds: <= 1 }, $"Cache-Control: {last.Headers.CacheControl}");
            Assert.InRange(await SmoothDecoding.VideoFramesAsync(server, vod, "live/ch1.isml", 500000), (int)(PushSeconds * 25) - 50, (int)(PushSeconds * 25) + 1);

            // On disk: one archive per encoder with an mfra index, plus the VOD manifests.
            var folder = Path.Combine(dataPath, "live", "ch1.isml");
            foreach (var archive in new[] { "high.ismv", "low.ismv" })
            {
                var path = Path.Combine(folder, archive);
                var boxes = Boxes.TopLevel(await File.ReadAllBytesAsync(path));
                Assert.Equal("mfra", boxes[^1].Type);
                Assert.True(boxes[^1].Size > 16, "mfra must index the fragments, not be ffmpeg's empty one");
                var probe = await Tool.ProbeAsync(path, "-show_entries", "format=duration", "-of", "csv=p=0");
                var duration = double.Parse(probe.Trim(), CultureInfo.InvariantCulture);
                Assert.InRange(duration, PushSeconds - 2, PushSeconds + 2);
            }

            Assert.True(File.Exists(Path.Combine(folder, "ch1.ism")));
            Assert.Contains("SmoothStreamingMedia", await File.ReadAllTextAsync(Path.Combine(folder, "ch1.ismc")), StringComparison.Ordinal);
        }
        finally
        {
            await server.DisposeAsync();
        }

        // A restart serves the finished point as VOD from disk.
        await using var restarted = await RunningServer.StartAsync(dataPath);
        var again = await SmoothManifestView.FetchAsync(restarted.Http, "live/ch1.isml/Manifest");
        Assert.False(again.IsLive);
        Assert.Equal(2, again.Bitrates("video").Length);
        Assert.InRange(again.Duration, (long)((PushSeconds - 2) * Second), (long)((PushSeconds + 2) * Second));
        await AssertFragmentsServedAsync(restarted, again);
        Assert.InRange(await SmoothDecoding.VideoFramesAsync(restarted, again, "live/ch1.isml", 250000), (int)(PushSeconds * 25) - 50, (int)(PushSeconds * 25) + 1);
    }

    private static async Task<SmoothManifestView> WaitForLiveManifestAsync(RunningServer server, int minVideoChunks)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await server.Http.GetAsync("live/ch1.isml/Manifest");
            if (response.IsSuccessStatusCode)
            {
                var view = new SmoothManifestView(System.Xml.Linq.XDocument.Parse(await response.Content.ReadAsStringAsync()), "live/ch1.isml/");
                if (view.HasStream("video") && view.HasStream("audio") && view.Bitrates("video").Length == 2 && view.ChunkTimes("video").Length >= minVideoChunks)
                {
                    return view;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, "the live manifest never listed both encoders");
            await Task.Delay(250);
        }
    }

    private static async Task AssertFragmentsServedAsync(RunningServer server, SmoothManifestView manifest)
    {
        foreach (var type in new[] { "video", "audio" })
        {
            foreach (var bitrate in manifest.Bitrates(type))
            {
                foreach (var time in manifest.ChunkTimes(type))
                {
                    using var response = await server.Http.GetAsync(manifest.Url(type, bitrate, time));
                    Assert.True(response.StatusCode == HttpStatusCode.OK, $"{type} {bitrate} at {time}: {(int)response.StatusCode}");
                    Assert.Equal("video/mp4", response.Content.Headers.ContentType?.MediaType);
                    var bytes = await response.Content.ReadAsByteArrayAsync();
                    var boxes = Boxes.TopLevel(bytes);
                    Assert.Equal(["moof", "mdat"], boxes.Select(b => b.Type));
                    Assert.Equal(bytes.Length, boxes.Sum(b => b.Size));
                }
            }
        }
    }

    /// <summary>
    /// A live client at the edge that took the newest fragment, whose tfrf could name nothing after it yet, learnt of
    /// nothing more: dash.js's Smooth support reads the manifest once, and stopped there for good with no error (seen
    /// as SmoothDashJsLiveEndTests stopping at 11.87 of 16 s). The newest live fragment is answered once it can name
    /// the LookAheadFragmentCount (2) fragments after it.
    /// </summary>
    [Fact]
    public async Task TheNewestLiveFragment_IsAnsweredOnceItCanNameTheNextTwo()
    {
        await using var server = await RunningServer.StartAsync();
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(12, 300, 0));
        await using var encoder = await HeldPush.StartAsync(server.BaseUrl, "/live/edge.isml/Streams(a)");
        await encoder.SendAsync(header);
        await encoder.SendAsync(fragments[0]);
        await encoder.SendAsync(fragments[1]);
        SmoothManifestView? live = null;
        await Eventually.WaitUntilAsync(async () =>
        {
            using var response = await server.Http.GetAsync("live/edge.isml/Manifest");
            live = response.IsSuccessStatusCode ? new SmoothManifestView(System.Xml.Linq.XDocument.Parse(await response.Content.ReadAsStringAsync()), "live/edge.isml/") : null;
            return live?.ChunkTimes("video").Length >= 2;
        }, "the live manifest never listed two fragments");
        var times = live!.ChunkTimes("video");

        var held = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PublishingPoint.Server.Delivery.Hls.HeldRequests>(server.Services);
        var newest = server.Http.GetByteArrayAsync(live.Url("video", live.Bitrates("video")[0], times[^1]));
        await Eventually.WaitUntilAsync(() => held.Now == 1 || newest.IsCompleted, "the newest fragment's request never reached the server");
        Assert.False(newest.IsCompleted, "answered at once, though nothing follows it yet"); // the server holds it
        await encoder.SendAsync(fragments[2]);
        await encoder.SendAsync(fragments[3]);
        var answered = await newest;
        Assert.Equal([Boxes.TfxdTime(fragments[2]), Boxes.TfxdTime(fragments[3])], TfrfTimes(answered));
    }

    /// <summary>
    /// An encoder that left sends no look-ahead, while its point stays live for the grace period: the hold counts from the
    /// arrival of the point's newest media, so once a hold's length has passed since, the newest fragments are answered
    /// at once. Each was held the whole limit before (6 s a fragment, for every player). The server's clock is a fake
    /// one moved by hand: a hold that does not count from the arrival never ends.
    /// </summary>
    [Fact]
    public async Task AfterTheHoldSinceTheNewestMedia_TheNewestFragmentIsAnsweredAtOnce()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartWithClockAsync(clock, "--PublishingPoint:FinalizeGraceSeconds=3600");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/left.isml/Streams(a)", IsmvCapture.WithoutEnd(await IsmvCapture.MakeAsync(8, 300, 0)));
        Assert.True(status == System.Net.HttpStatusCode.OK, body);
        var live = await SmoothManifestView.FetchAsync(server.Http, "live/left.isml/Manifest");
        Assert.True(live.IsLive);
        clock.Advance(TimeSpan.FromSeconds(7)); // past the hold: three of its 2 s fragments

        var times = live.ChunkTimes("video");
        var newest = await server.Http.GetByteArrayAsync(live.Url("video", live.Bitrates("video")[0], times[^1])).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotEmpty(newest);
    }

    // The fragment times a tfrf box announces (MS-SSTR 2.2.4.7: version 1, 64-bit absolute time and duration per entry).
    private static List<long> TfrfTimes(byte[] fragment)
    {
        var found = fragment.AsSpan().IndexOf(Tfrf);
        Assert.True(found > 0, "the fragment has a tfrf box");
        var at = found + Tfrf.Length;
        var version = fragment[at];
        var count = fragment[at + 4];
        var times = new List<long>();
        for (var i = 0; i < count; i++)
        {
            times.Add(version == 1
                ? System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(fragment.AsSpan(at + 5 + (i * 16)))
                : System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(fragment.AsSpan(at + 5 + (i * 8))));
        }

        return times;
    }
}
