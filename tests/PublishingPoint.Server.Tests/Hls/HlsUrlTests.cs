using System.Globalization;
using System.Text.RegularExpressions;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// The HLS URL reader against the grammar it replaced (the regular expressions the router used, kept here as the
/// reference, with numbers as the playlists write them: no leading zero): the same URLs accepted, with the same name,
/// bitrate, numbers and format, and the same refused.
/// </summary>
public sealed partial class HlsUrlTests
{
    public static TheoryData<string> Urls()
    {
        string[] fixedUrls =
        [
            "hls/video-400000.m3u8", "hls/video-400000-fmp4.m3u8", "hls/audio-64000-fmp4.m3u8", "hls/video-400000-iframes.m3u8",
            "hls/video-400000-iframes-fmp4.m3u8", "hls/video-400000/0.ts", "hls/video-400000/123456789012345678.m4s",
            "hls/audio-64000/7.aac", "hls/video-400000/12.3.m4s", "hls/video-400000/12.1234.m4s", "hls/video-400000/init.mp4",
            "hls/my-cam-1-400000.m3u8", "hls/a-100-200.m3u8", "hls/a.b_c-1/5.ts", "hls/fmp4-100.m3u8", "hls/a-fmp4-100.m3u8",
            "hls/cam-iframes-100.m3u8", "hls/x-100-fmp4-fmp4.m3u8", "hls/x-iframes.m3u8", "hls/-100.m3u8", "hls/video-.m3u8",
            "hls/video-1234567890.m3u8", "hls/video-12345678901.m3u8", "hls/video-9999999999/1.ts", "hls/video-400000/1234567890123456789.ts",
            "hls/video-400000/12.12345.m4s", "hls/video-400000/12.m4s.m4s", "hls/video-400000/3.ts.m4s", "hls/video-400000/3.TS",
            "hls/video-400000/.ts", "hls/video-400000/+3.ts", "hls/video-400000/3.ts/", "hls/video-400000.M3U8", "hls/vi deo-1.m3u8",
            "hls/vidéo-1.m3u8", "hls/video-400000/init.mp4x", "hls/video-400000/a/init.mp4", "hls/video-400000//3.ts", "HLS/video-1.m3u8",
            "hls/video-+1.m3u8", "hls/video- 1.m3u8", "hls/" + new string('n', 64) + "-1.m3u8", "hls/" + new string('n', 65) + "-1.m3u8",
            "hls/video-400000", "hls/video-400000/", "hls/", "master.m3u8", "hls/video-400000-iframes-fmp4/3.m4s", "hls/v-1-iframes-iframes.m3u8",
            "hls/video-400000/t100000000.m4s", "hls/video-400000/t.m4s", "hls/video-400000/t9223372036854775807.m4s",
            "hls/video-400000/t9999999999999999999.m4s", "hls/video-400000/t12.ts", "hls/video-400000/t1.2.m4s", "hls/video-400000/tt1.m4s",
            "hls/video-0400000.m3u8", "hls/video-0400000-iframes.m3u8", "hls/video-400000/03.ts", "hls/video-400000/3.01.m4s", "hls/video-400000/3.0.m4s",
            "hls/video-400000/t0100.m4s", "hls/video-400000/t0.m4s", "hls/video-0/0.ts", "hls/video-00/0.ts", "hls/a-100-0200.m3u8",
        ];

        // Random URLs from the grammar's own characters, besides those.
        return RandomUrls.Rows(fixedUrls, 7, "ab-1.09_/tsm4aciframesfp3u8X ", 400, 24,
            static (i, text) => "hls/" + text + (i % 3 == 0 ? ".m3u8" : i % 3 == 1 ? "/1.ts" : string.Empty));
    }

    [Theory]
    [MemberData(nameof(Urls))]
    public void Reads_WhatTheRegularExpressionsRead(string rest)
    {
        var expected = Reference(rest);
        var parsed = HlsUrl.TryParse(rest, out var url);
        Assert.Equal(expected is not null, parsed);
        if (expected is { } e)
        {
            Assert.Equal(e.Kind, url.Kind);
            Assert.Equal(e.Name, url.Name.ToString());
            Assert.Equal(int.TryParse(e.Bitrate, NumberStyles.None, CultureInfo.InvariantCulture, out var bitrate) ? bitrate : -1, url.Bitrate);
            Assert.Equal(e.Fmp4, url.Fmp4);
            Assert.Equal(e.Sequence, url.Sequence);
            Assert.Equal(e.Part, url.Part);
            if (e.Kind == HlsUrlKind.Segment)
            {
                Assert.Equal(e.Extension, url.Extension);
            }
        }
    }

    private static (HlsUrlKind Kind, string Name, string Bitrate, bool Fmp4, long Sequence, int Part, string Extension)? Reference(string rest)
    {
        if (IFramePlaylistUrl().Match(rest) is { Success: true } i)
        {
            return (HlsUrlKind.IFramePlaylist, i.Groups["name"].Value, i.Groups["bitrate"].Value, i.Groups["fmp4"].Success, 0, 0, string.Empty);
        }

        if (PlaylistUrl().Match(rest) is { Success: true } p)
        {
            return (HlsUrlKind.Playlist, p.Groups["name"].Value, p.Groups["bitrate"].Value, p.Groups["fmp4"].Success, 0, 0, string.Empty);
        }

        if (PartUrl().Match(rest) is { Success: true } part)
        {
            return (HlsUrlKind.Part, part.Groups["name"].Value, part.Groups["bitrate"].Value, true, long.Parse(part.Groups["n"].Value, CultureInfo.InvariantCulture),
                int.Parse(part.Groups["p"].Value, CultureInfo.InvariantCulture), "m4s");
        }

        if (SegmentUrl().Match(rest) is { Success: true } s)
        {
            var extension = s.Groups["ext"].Value;
            return (HlsUrlKind.Segment, s.Groups["name"].Value, s.Groups["bitrate"].Value, extension == "m4s", long.Parse(s.Groups["n"].Value, CultureInfo.InvariantCulture), 0, extension);
        }

        if (TimedSegmentUrl().Match(rest) is { Success: true } timed)
        {
            return long.TryParse(timed.Groups["t"].Value, CultureInfo.InvariantCulture, out var time)
                ? (HlsUrlKind.TimedSegment, timed.Groups["name"].Value, timed.Groups["bitrate"].Value, true, time, 0, "m4s")
                : null;
        }

        return InitUrl().Match(rest) is { Success: true } init
            ? (HlsUrlKind.Init, init.Groups["name"].Value, init.Groups["bitrate"].Value, true, 0, 0, string.Empty)
            : null;
    }

    [GeneratedRegex(@"^hls/(?<name>[A-Za-z0-9._-]{1,64}?)-(?<bitrate>0|[1-9][0-9]{0,9})(?<fmp4>-fmp4)?\.m3u8$", RegexOptions.CultureInvariant)]
    private static partial Regex PlaylistUrl();

    [GeneratedRegex(@"^hls/(?<name>[A-Za-z0-9._-]{1,64}?)-(?<bitrate>0|[1-9][0-9]{0,9})-iframes(?<fmp4>-fmp4)?\.m3u8$", RegexOptions.CultureInvariant)]
    private static partial Regex IFramePlaylistUrl();

    [GeneratedRegex(@"^hls/(?<name>[A-Za-z0-9._-]{1,64}?)-(?<bitrate>0|[1-9][0-9]{0,9})/(?<n>0|[1-9][0-9]{0,17})\.(?<ext>ts|m4s|aac)$", RegexOptions.CultureInvariant)]
    private static partial Regex SegmentUrl();

    [GeneratedRegex(@"^hls/(?<name>[A-Za-z0-9._-]{1,64}?)-(?<bitrate>0|[1-9][0-9]{0,9})/(?<n>0|[1-9][0-9]{0,17})\.(?<p>0|[1-9][0-9]{0,3})\.m4s$", RegexOptions.CultureInvariant)]
    private static partial Regex PartUrl();

    [GeneratedRegex(@"^hls/(?<name>[A-Za-z0-9._-]{1,64}?)-(?<bitrate>0|[1-9][0-9]{0,9})/t(?<t>0|[1-9][0-9]{0,18})\.m4s$", RegexOptions.CultureInvariant)]
    private static partial Regex TimedSegmentUrl();

    [GeneratedRegex(@"^hls/(?<name>[A-Za-z0-9._-]{1,64}?)-(?<bitrate>0|[1-9][0-9]{0,9})/init\.mp4$", RegexOptions.CultureInvariant)]
    private static partial Regex InitUrl();
}
