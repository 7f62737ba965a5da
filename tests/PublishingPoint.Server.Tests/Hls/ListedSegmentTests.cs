using System.Buffers.Binary;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>A segment a live playlist has listed stays listed and servable, whatever arrives after it.</summary>
public sealed class ListedSegmentTests
{
    private const string Point = "live/listed.isml";

    [Fact]
    public async Task TheNewestSegment_StaysListedAsItWas_AndServable_WhenTheNextVideoFragmentStartsAfterASmallGap()
    {
        // 10 s of ffmpeg's video and AAC in 2 s fragments; then one more video fragment starting half a second after
        // the video's end (a dropped run of frames, or a looped playout), before any audio past 10 s has arrived.
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(10, 400, 64));
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600");
        var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", [.. header, .. fragments.SelectMany(f => f)]);
        Assert.True(status == HttpStatusCode.OK, text);

        var playlist = HlsText.AttributeLines(await server.Http.GetStringAsync($"{Point}/master.m3u8"), "#EXT-X-STREAM-INF")[0].Uri!;
        var folder = playlist[..playlist.LastIndexOf('/')];
        var listed = HlsText.Segments(await server.Http.GetStringAsync($"{Point}/{playlist}"));
        Assert.Equal(5, listed.Count);

        var firstVideo = fragments.First(f => TrackOf(f) == TrackOf(fragments[0]));
        var late = Boxes.ShiftTfxd(firstVideo, 105_000_000); // 10.5 s on, in the capture's 100 ns units
        (status, text) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", [.. header, .. late]);
        Assert.True(status == HttpStatusCode.OK, text);

        // Listed as before, with the same durations (RFC 8216 6.2.1: a listed segment does not change).
        var after = HlsText.Segments(await server.Http.GetStringAsync($"{Point}/{playlist}"));
        Assert.Equal(listed, after.Take(listed.Count));
        foreach (var (_, uri) in listed)
        {
            using var response = await server.Http.GetAsync($"{Point}/{folder}/{uri}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{uri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        // The newest listed segment, as ffprobe reads it: its video and its audio (each listed under its program too).
        var streams = await Tool.ProbeAsync(server.Url($"{Point}/{folder}/{listed[^1].Uri}").ToString(), "-show_entries", "stream=codec_type", "-of", "csv=p=0");
        Assert.Equal(["audio", "video"], streams.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().Order());
    }

    // The track_ID of a fragment's first 'traf' (moof: header 8, mfhd 16, traf header 8, tfhd header and flags 12).
    private static uint TrackOf(byte[] fragment) => BinaryPrimitives.ReadUInt32BigEndian(fragment.AsSpan(8 + 16 + 8 + 12));
}
