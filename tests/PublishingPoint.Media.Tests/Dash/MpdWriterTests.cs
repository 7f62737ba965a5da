using System.Xml.Linq;
using PublishingPoint.Media.Dash;

namespace PublishingPoint.Media.Tests.Dash;

public sealed class MpdWriterTests
{
    private static readonly XNamespace _ns = MpdWriter.Namespace;
    private static readonly DateTimeOffset _start = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void DynamicMpdHasLiveAttributesAndFoldedTimeline()
    {
        var mpd = new MediaPresentation
        {
            IsDynamic = true,
            AvailabilityStartTime = _start,
            PublishTime = _start.AddSeconds(30.25),
            MinimumUpdatePeriod = TimeSpan.FromSeconds(2),
            TimeShiftBufferDepth = TimeSpan.FromSeconds(300),
            SuggestedPresentationDelay = TimeSpan.FromSeconds(6),
            UtcTimings = [new UtcTiming(UtcTiming.HttpIso, "http://example.test/time")],
            Periods =
            [
                new DashPeriod
                {
                    AdaptationSets =
                    [
                        new DashAdaptationSet
                        {
                            Id = 0,
                            ContentType = DashContentType.Video,
                            SegmentAlignment = true,
                            Representations =
                            [
                                new DashRepresentation
                                {
                                    Id = "video-600000",
                                    Bandwidth = 650000,
                                    Codecs = "avc1.64001e",
                                    Width = 640,
                                    Height = 360,
                                    FrameRate = "25",
                                    SegmentTemplate = new DashSegmentTemplate
                                    {
                                        Timescale = 10_000_000,
                                        PresentationTimeOffset = 100_000_000,
                                        StartNumber = 5,
                                        Initialization = "hls/$RepresentationID$/init.mp4",
                                        Media = "hls/$RepresentationID$/$Number$.m4s",
                                        Segments =
                                        [
                                            new DashSegment(200_000_000, 20_000_000),
                                            new DashSegment(220_000_000, 20_000_000),
                                            new DashSegment(240_000_000, 20_000_000),
                                            new DashSegment(260_000_000, 10_000_000),
                                            new DashSegment(300_000_000, 20_000_000),
                                        ],
                                    },
                                },
                            ],
                        },
                        new DashAdaptationSet
                        {
                            Id = 1,
                            ContentType = DashContentType.Audio,
                            Language = "en",
                            Representations =
                            [
                                new DashRepresentation
                                {
                                    Id = "audio-64000",
                                    Bandwidth = 64000,
                                    Codecs = "mp4a.40.2",
                                    AudioSamplingRate = 48000,
                                    AudioChannels = 2,
                                    SegmentTemplate = new DashSegmentTemplate
                                    {
                                        Timescale = 48000,
                                        Initialization = "a/init.mp4",
                                        Media = "a/$Number$.m4s",
                                        Segments = [new DashSegment(0, 96000)],
                                    },
                                },
                            ],
                        },
                    ],
                },
            ],
        };

        var text = MpdWriter.Write(mpd);
        var root = XDocument.Parse(text).Root!;

        Assert.Equal(_ns + "MPD", root.Name);
        Assert.Equal("dynamic", (string?)root.Attribute("type"));
        Assert.Equal("2024-05-01T12:00:00.000Z", (string?)root.Attribute("availabilityStartTime"));
        Assert.Equal("2024-05-01T12:00:30.250Z", (string?)root.Attribute("publishTime"));
        Assert.Equal("PT2S", (string?)root.Attribute("minimumUpdatePeriod"));
        Assert.Equal("PT300S", (string?)root.Attribute("timeShiftBufferDepth"));
        Assert.Equal("PT6S", (string?)root.Attribute("suggestedPresentationDelay"));
        Assert.Null(root.Attribute("mediaPresentationDuration"));
        Assert.Contains(MediaPresentation.LiveProfile, (string?)root.Attribute("profiles"), StringComparison.Ordinal);
        Assert.Equal(UtcTiming.HttpIso, (string?)root.Element(_ns + "UTCTiming")?.Attribute("schemeIdUri"));

        var sets = root.Element(_ns + "Period")!.Elements(_ns + "AdaptationSet").ToList();
        Assert.Equal(["video", "audio"], sets.Select(s => (string?)s.Attribute("contentType")));
        Assert.Equal("true", (string?)sets[0].Attribute("segmentAlignment"));
        Assert.Equal("en", (string?)sets[1].Attribute("lang"));
        var video = sets[0].Element(_ns + "Representation")!;
        Assert.Equal("avc1.64001e", (string?)video.Attribute("codecs"));
        Assert.Equal("25", (string?)video.Attribute("frameRate"));
        var template = video.Element(_ns + "SegmentTemplate")!;
        Assert.Equal("100000000", (string?)template.Attribute("presentationTimeOffset"));
        Assert.Equal("5", (string?)template.Attribute("startNumber"));

        // Three equal segments fold into one S with r=2; the short one continues; the gap restates t.
        var s = template.Element(_ns + "SegmentTimeline")!.Elements(_ns + "S")
            .Select(e => ((string?)e.Attribute("t"), (string?)e.Attribute("d"), (string?)e.Attribute("r")))
            .ToList();
        Assert.Equal(
            [("200000000", "20000000", "2"), (null, "10000000", null), ("300000000", "20000000", null)],
            s);

        var audio = sets[1].Element(_ns + "Representation")!;
        Assert.Equal("48000", (string?)audio.Attribute("audioSamplingRate"));
        Assert.Equal("2", (string?)audio.Element(_ns + "AudioChannelConfiguration")?.Attribute("value"));
    }

    [Fact]
    public void StaticMpdHasDurationAndNoUpdatePeriod()
    {
        var mpd = new MediaPresentation
        {
            MediaPresentationDuration = TimeSpan.FromSeconds(24.04),
            Periods = [new DashPeriod { AdaptationSets = [] }],
        };

        var root = XDocument.Parse(MpdWriter.Write(mpd)).Root!;

        Assert.Equal("static", (string?)root.Attribute("type"));
        Assert.Equal("PT24.04S", (string?)root.Attribute("mediaPresentationDuration"));
        Assert.Null(root.Attribute("minimumUpdatePeriod"));
        Assert.Null(root.Attribute("availabilityStartTime"));
        Assert.Equal("PT0S", (string?)root.Element(_ns + "Period")?.Attribute("start"));
    }

    [Fact]
    public void NumbersWithAGap_AreWrittenAsASegmentList_AndASegmentTemplateAgainOnceTheyRunOn()
    {
        var template = new DashSegmentTemplate
        {
            Timescale = 1000,
            StartNumber = 0,
            Initialization = "hls/$RepresentationID$/init.mp4",
            Media = "hls/$RepresentationID$/$Number$.m4s",
            Segments = [new DashSegment(0, 2000), new DashSegment(32000, 2000), new DashSegment(34000, 2000)],
            Numbers = [0, 16, 17],
        };

        var list = Representation(template).Element(_ns + "SegmentList")!;
        Assert.Equal("hls/v/init.mp4", (string?)list.Element(_ns + "Initialization")?.Attribute("sourceURL"));
        Assert.Equal(["hls/v/0.m4s", "hls/v/16.m4s", "hls/v/17.m4s"], list.Elements(_ns + "SegmentURL").Select(u => (string?)u.Attribute("media")));
        // One S a segment (no @r): dash.js takes the SegmentURL of the S element's index.
        Assert.Equal(["0", "32000", null], list.Element(_ns + "SegmentTimeline")!.Elements(_ns + "S").Select(s => (string?)s.Attribute("t")));
        Assert.All(list.Descendants(_ns + "S"), s => Assert.Null(s.Attribute("r")));
        Assert.Equal(
            ["Initialization", "SegmentTimeline", "SegmentURL", "SegmentURL", "SegmentURL"], // schema order
            list.Elements().Select(e => e.Name.LocalName));

        var rest = template.WithoutFirst(1);
        Assert.Null(rest.Numbers);
        var again = Representation(rest).Element(_ns + "SegmentTemplate")!;
        Assert.Equal("16", (string?)again.Attribute("startNumber"));
        Assert.Throws<ArgumentException>(() => Representation(template with { Numbers = [0, 16] }));
    }

    private static XElement Representation(DashSegmentTemplate template)
    {
        var mpd = new MediaPresentation
        {
            MediaPresentationDuration = TimeSpan.FromSeconds(36),
            Periods =
            [
                new DashPeriod
                {
                    AdaptationSets =
                    [
                        new DashAdaptationSet
                        {
                            Id = 0,
                            ContentType = DashContentType.Video,
                            Representations = [new DashRepresentation { Id = "v", Bandwidth = 1, Codecs = "avc1.64001e", SegmentTemplate = template }],
                        },
                    ],
                },
            ],
        };
        return XDocument.Parse(MpdWriter.Write(mpd)).Root!.Descendants(_ns + "Representation").Single();
    }

    [Fact]
    public void DynamicMpdWithoutClockIsRejected() =>
        Assert.Throws<ArgumentException>(() => MpdWriter.Write(new MediaPresentation { IsDynamic = true, Periods = [] }));
}
