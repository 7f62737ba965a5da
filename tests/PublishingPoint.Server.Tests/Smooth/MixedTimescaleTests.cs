using System.Globalization;
using System.Net;
using System.Text.Json;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Smooth;

/// <summary>
/// Two encoders feed one point's video: ffmpeg's ismv (timed at 10 MHz) and a CMAF encoder timed at 90 kHz. A Smooth
/// StreamIndex has one TimeScale and one chunk list for all its levels, so the 90 kHz level was listed under the ismv
/// level's chunk times, which are not its fragments' times (only 0 matched). It is left out of the manifest now, with a
/// warning; every level the manifest lists answers every chunk, and HLS still offers both.
/// </summary>
public sealed class MixedTimescaleTests
{
    [Fact]
    public async Task ALevelOnAnotherTimescale_IsNotOffered_AndEveryListedLevelAnswersEveryChunk()
    {
        await using var server = await RunningServer.StartAsync();
        var smooth = await IsmvCapture.MakeAsync(6, 600, 64);
        var cmaf = await IsmvCapture.CaptureAsync((target, settings) =>
        {
            var args = Encoder.CmafPushArguments(target, settings).ToList();
            args.InsertRange(args.IndexOf("-movflags"), ["-video_track_timescale", "90000"]);
            return args;
        }, new EncoderSettings { Seconds = 6, VideoKbps = 300, AudioKbps = 0, RealTime = false });
        var pushes = await Task.WhenAll(
            Posting.PostChunkedAsync(server.Http, "live/mixed.isml/Streams(a)", smooth),
            Posting.PostChunkedAsync(server.Http, "live/mixed.isml/Streams(b)", cmaf));
        Assert.All(pushes, push => Assert.True(push.Item1 == HttpStatusCode.OK, push.Item2));

        var master = await server.Http.GetStringAsync("live/mixed.isml/master-fmp4.m3u8");
        Assert.Equal(2, master.Split('\n').Count(l => l.StartsWith("#EXT-X-STREAM-INF", StringComparison.Ordinal) && l.Contains("RESOLUTION=", StringComparison.Ordinal)));

        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/mixed.isml/Manifest");
        Assert.Equal(10_000_000, long.Parse((string?)manifest.Stream("video").Attribute("TimeScale") ?? (string)manifest.Root.Attribute("TimeScale")!, CultureInfo.InvariantCulture));
        var bitrate = Assert.Single(manifest.Bitrates("video"));
        var times = manifest.ChunkTimes("video");
        Assert.True(times.Length >= 3, $"{times.Length} chunks");
        foreach (var time in times)
        {
            using var response = await server.Http.GetAsync(manifest.Url("video", bitrate, time));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{manifest.Url("video", bitrate, time)}: {(int)response.StatusCode}");
        }

        using var json = JsonDocument.Parse(await server.Http.GetStringAsync("api/points/live/mixed.isml"));
        Assert.Contains(json.RootElement.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!), w => w.Contains("90000 Hz where its Smooth stream is at 10000000 Hz", StringComparison.Ordinal));
    }
}
