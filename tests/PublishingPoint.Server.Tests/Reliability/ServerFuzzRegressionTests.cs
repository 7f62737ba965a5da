using System.Buffers.Binary;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Reliability;

/// <summary>The 500s the server fuzz found, each reduced to the one field that caused it.</summary>
public sealed class ServerFuzzRegressionTests
{
    // MS-SSTR tfxd user type: its payload is version/flags, then 64-bit time and duration.
    private static readonly byte[] _tfxd = Convert.FromHexString("6D1D9B0542D544E680E2141DAFF757B2");

    /// <summary>cmaf case 231 ("1 payload bytes of 'tfdt'"): a time near 2^60 overflowed every rescale on delivery.</summary>
    [Fact]
    public async Task FragmentTimeBeyondAnyTimeline_Gets400_AndThePointStillPlays()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = (byte[])(await IsmvCapture.SixSecondsAsync()).Clone();
        var moofs = Boxes.TopLevel(capture).Where(b => b.Type == "moof").ToList();
        var tfxd = capture.AsSpan(moofs[2].Offset, moofs[2].Size).IndexOf(_tfxd) + moofs[2].Offset;
        BinaryPrimitives.WriteInt64BigEndian(capture.AsSpan(tfxd + 16 + 4), 0x0F00_0000_0000_0000);

        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/far.isml/Streams(enc1)", capture);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("out of range", body, StringComparison.Ordinal);
        var fetched = await PlayerCrawl.RunAsync(server.Http, "live/far.isml", perList: 10);
        Assert.DoesNotContain(fetched, PlayerCrawl.IsBad);
        Assert.Contains(fetched, f => f.Url.EndsWith("manifest.mpd", StringComparison.Ordinal) && f.Status == HttpStatusCode.OK);
    }

    /// <summary>cmaf case 53: a video sample whose NAL length runs past it crashed the HLS TS packager with a 500.</summary>
    [Fact]
    public async Task SampleThatCannotBeRepackaged_Gets422ForThatSegment_NotA500()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = (byte[])(await IsmvCapture.SixSecondsAsync()).Clone();
        var mdat = Boxes.TopLevel(capture).First(b => b.Type == "mdat");
        BinaryPrimitives.WriteUInt32BigEndian(capture.AsSpan(mdat.Offset + 8), 0x7C1D_0000); // the first NAL's length
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/nal.isml/Streams(enc1)", capture);
        Assert.True(status == HttpStatusCode.OK, body);

        var fetched = await PlayerCrawl.RunAsync(server.Http, "live/nal.isml", perList: 10);
        Assert.DoesNotContain(fetched, PlayerCrawl.IsBad);
        Assert.Contains(fetched, f => f.Url.EndsWith("/0.ts", StringComparison.Ordinal) && f.Status == HttpStatusCode.UnprocessableEntity);
        Assert.Contains(fetched, f => f.Url.EndsWith("/1.ts", StringComparison.Ordinal) && f.Status == HttpStatusCode.OK);
    }

    /// <summary>
    /// A review's case: the most negative time (a 'tfxd' or v1 'tfdt' of 0x8000000000000000) on a timescale of 1 made the
    /// range check's own absolute value overflow: a 500 and an error with its stack, every time it was sent.
    /// </summary>
    [Fact]
    public async Task TheMostNegativeTimeOnATimescaleOfOne_Gets400_NotA500()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = (byte[])(await IsmvCapture.SixSecondsAsync()).Clone();
        var mdhd = capture.AsSpan().IndexOf("mdhd"u8) - 4; // the first track's
        var version = capture[mdhd + 8];
        BinaryPrimitives.WriteUInt32BigEndian(capture.AsSpan(mdhd + 12 + (version == 1 ? 16 : 8)), 1);
        var moof = Boxes.TopLevel(capture).First(b => b.Type == "moof");
        var tfxd = capture.AsSpan(moof.Offset, moof.Size).IndexOf(_tfxd) + moof.Offset;
        BinaryPrimitives.WriteInt64BigEndian(capture.AsSpan(tfxd + 16 + 4), long.MinValue);

        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/min.isml/Streams(enc1)", capture);
        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {body}");
        Assert.Contains("out of range", body, StringComparison.Ordinal);
    }
}
