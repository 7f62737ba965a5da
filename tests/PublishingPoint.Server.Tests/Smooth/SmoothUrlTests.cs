using System.Globalization;
using System.Text.RegularExpressions;
using PublishingPoint.Server.Delivery.Smooth;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Smooth;

/// <summary>
/// The Smooth fragment and init URL reader against the grammar it replaced (the router's regular expressions, kept
/// here as the reference, with numbers as the manifest writes them: no leading zero): the same URLs accepted with the
/// same bitrate, name and time, and the same refused.
/// </summary>
public sealed partial class SmoothUrlTests
{
    public static TheoryData<string> Urls()
    {
        string[] fixedUrls =
        [
            "QualityLevels(400000)/Fragments(video=20000000)", "qualitylevels(400000)/fragments(video=0)", "QualityLevels(64000)/Fragments(audio=-21333)",
            "QualityLevels(400000)/Init(video)", "QUALITYLEVELS(1)/INIT(a.b_c-d)", "QualityLevels(400000)/Fragments(video=99999999999999999999)",
            "QualityLevels(400000)/Fragments(video=-9223372036854775808)", "QualityLevels(4294967296)/Fragments(video=1)", "QualityLevels(2147483648)/Init(v)",
            "QualityLevels(12345678901)/Init(v)", "QualityLevels()/Init(v)", "QualityLevels(1)/Init()", "QualityLevels(1)/Fragments(=1)",
            "QualityLevels(1)/Fragments(v=)", "QualityLevels(1)/Fragments(v=-)", "QualityLevels(1)/Fragments(v=+1)", "QualityLevels(1)/Fragments(v=1 )",
            "QualityLevels(1)/Fragments(v=1)/", "QualityLevels(1)/Fragments(v w=1)", "QualityLevels(1)/Fragments(v=1=2)", "QualityLevels(1)/Fragments(vidéo=1)",
            "QualityLevels(1) /Fragments(v=1)", "QualityLevels(+1)/Init(v)", "QualityLevels(1)/Init(v))", "QualityLevels(1)/Init((v)", "Manifest",
            "QualityLevels(1)/Fragments(" + new string('n', 64) + "=1)", "QualityLevels(1)/Fragments(" + new string('n', 65) + "=1)",
            "QualityLevels(1)/Fragments(v=123456789012345678901)", "QualityLevels(1)/Fragments(v=-123456789012345678901)", "hls/video-1.m3u8",
            "QualityLevels(0400000)/Fragments(video=20000000)", "QualityLevels(400000)/Fragments(video=020000000)", "QualityLevels(1)/Fragments(v=-0)",
            "QualityLevels(1)/Fragments(v=-01)", "QualityLevels(0)/Init(v)", "QualityLevels(00)/Init(v)", "QualityLevels(1)/Fragments(v=00)",
            "QualityLevels(400000)/FragmentInfo(video=20000000)", "qualitylevels(1)/fragmentinfo(v=-1)", "QualityLevels(1)/FragmentInfo(v=01)",
            "QualityLevels(1)/FragmentInfos(v=1)", "QualityLevels(1)/FragmentInfo(v)", "QualityLevels(1)/Fragment(v=1)",
        ];

        // Random URLs from the grammar's own characters, besides those.
        return RandomUrls.Rows(fixedUrls, 11, "QualityLevels()/FragmentsInit=-019v.a ", 300, 16,
            static (i, text) => (i % 2 == 0 ? "QualityLevels(" : "QualityLevels(1)/Fragments(") + text + ")");
    }

    [Theory]
    [MemberData(nameof(Urls))]
    public void Reads_WhatTheRegularExpressionsRead(string rest)
    {
        var expected = Reference(rest);
        Assert.Equal(expected is not null, SmoothUrl.TryParse(rest, out var url));
        if (expected is { } e)
        {
            Assert.Equal(e, url);
        }
    }

    // As the router read them: a match, then a bitrate that fits an int and a time that fits a long.
    private static SmoothUrl? Reference(string rest)
    {
        if (FragmentUrl().Match(rest) is { Success: true } f
            && int.TryParse(f.Groups["bitrate"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var bitrate)
            && long.TryParse(f.Groups["time"].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var time))
        {
            return new SmoothUrl(false, bitrate, f.Groups["name"].Value, time, f.Groups["kind"].Value.Equals("FragmentInfo", StringComparison.OrdinalIgnoreCase));
        }

        return InitUrl().Match(rest) is { Success: true } i && int.TryParse(i.Groups["bitrate"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var initBitrate)
            ? new SmoothUrl(true, initBitrate, i.Groups["name"].Value, 0)
            : null;
    }

    [GeneratedRegex(@"^QualityLevels\((?<bitrate>0|[1-9][0-9]{0,9})\)/(?<kind>Fragments|FragmentInfo)\((?<name>[A-Za-z0-9._-]{1,64})=(?<time>0|-?[1-9][0-9]{0,19})\)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex FragmentUrl();

    [GeneratedRegex(@"^QualityLevels\((?<bitrate>0|[1-9][0-9]{0,9})\)/Init\((?<name>[A-Za-z0-9._-]{1,64})\)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex InitUrl();
}
