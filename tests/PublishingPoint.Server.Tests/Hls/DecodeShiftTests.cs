using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// TS segments decode each sample earlier than the fragment says by the most negative composition offset of the
/// track's first fragment, fixed for the point's life so decode times stay continuous. It had no bound: one wild offset
/// in that first fragment (a 'trun' v1 takes any) put every later segment's decode times seconds before their
/// presentation (a review's finding).
/// </summary>
public sealed class DecodeShiftTests
{
    [Fact]
    public async Task AWildOffsetInTheFirstFragment_DoesNotShiftEveryLaterTsSegment()
    {
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var first = fragments.FindIndex(f => Boxes.TrackId(f) == 1);
        fragments[first] = WithFirstOffset(fragments[first], -100_000_000); // 10 s at Smooth's 10 MHz
        await using var server = await RunningServer.StartAsync();
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/shift.isml/Streams(a)", [.. header, .. fragments.SelectMany(f => f)]);
        Assert.True(status == HttpStatusCode.OK, text);

        var playlist = await server.Http.GetStringAsync("live/shift.isml/hls/video-400000.m3u8");
        var last = HlsText.Segments(playlist)[^1].Uri;
        var packets = await Tool.ProbeAsync(server.Url($"live/shift.isml/hls/{last}").ToString(), "-select_streams", "v", "-show_entries", "packet=pts_time,dts_time", "-of", "csv=p=0");
        var lag = packets.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(','))
            .Max(p => double.Parse(p[0], CultureInfo.InvariantCulture) - double.Parse(p[1], CultureInfo.InvariantCulture));
        Assert.InRange(lag, 0, 1.5);
    }

    // The first sample's composition offset set to a signed value (the 'trun' made version 1, which is signed).
    private static byte[] WithFirstOffset(byte[] fragment, int offset)
    {
        var copy = (byte[])fragment.Clone();
        var trun = copy.AsSpan().IndexOf("trun"u8);
        var flags = BinaryPrimitives.ReadUInt32BigEndian(copy.AsSpan(trun + 4)) & 0xFFFFFF;
        Assert.True((flags & 0x800) != 0, "the fragment's samples carry composition offsets");
        copy[trun + 4] = 1;
        var at = trun + 12 + ((flags & 0x1) != 0 ? 4 : 0) + ((flags & 0x4) != 0 ? 4 : 0)
            + ((flags & 0x100) != 0 ? 4 : 0) + ((flags & 0x200) != 0 ? 4 : 0) + ((flags & 0x400) != 0 ? 4 : 0);
        BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(at), offset);
        return copy;
    }
}
