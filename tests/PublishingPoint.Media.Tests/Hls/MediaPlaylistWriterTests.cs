using PublishingPoint.Media.Hls;

namespace PublishingPoint.Media.Tests.Hls;

public sealed class MediaPlaylistWriterTests
{
    private static readonly DateTimeOffset _start = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void LivePlaylistHasWindowTagsAndNoEndList()
    {
        var playlist = new MediaPlaylist
        {
            MediaSequence = 7,
            Segments =
            [
                new HlsSegment(7, TimeSpan.FromSeconds(2), "v/7.ts", ProgramDateTime: _start),
                new HlsSegment(8, TimeSpan.FromSeconds(2.0001), "v/8.ts", ProgramDateTime: _start.AddSeconds(2)),
                new HlsSegment(9, TimeSpan.FromSeconds(1.96), "v/9.ts", ProgramDateTime: _start.AddSeconds(4)),
            ],
        };

        var text = MediaPlaylistWriter.Write(playlist);

        Assert.StartsWith("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n", text, StringComparison.Ordinal);
        Assert.Contains("#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n#EXTINF:2.000,\nv/7.ts\n", text, StringComparison.Ordinal);
        Assert.Contains("#EXTINF:1.960,\nv/9.ts\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ENDLIST", text, StringComparison.Ordinal);
        Assert.DoesNotContain("PLAYLIST-TYPE", text, StringComparison.Ordinal);
        Assert.DoesNotContain("DISCONTINUITY", text, StringComparison.Ordinal);
    }

    [Fact]
    public void TargetDurationIsNeverBelowAnyRoundedSegmentOrTheGivenMinimum()
    {
        HlsSegment[] segments = [new(0, TimeSpan.FromSeconds(4.4), "a.ts"), new(1, TimeSpan.FromSeconds(1), "b.ts")];
        Assert.Equal(4, new MediaPlaylist { Segments = segments }.TargetDuration);
        Assert.Equal(6, new MediaPlaylist { Segments = segments, MinimumTargetDuration = 6 }.TargetDuration);
        Assert.Equal(2, new MediaPlaylist { Segments = [new(0, TimeSpan.FromSeconds(2), "a.ts")] }.TargetDuration);
    }

    [Theory]
    [InlineData(2.0, 2)]
    [InlineData(2.02, 2)] // 86 AAC frames at 44.1 kHz beside 2 s video: not 3
    [InlineData(2.4994, 2)]
    [InlineData(2.4996, 3)] // written as 2.500, which a reader rounds up
    [InlineData(2.5, 3)]
    [InlineData(0.4, 0)]
    public void TargetDurationCoversTheWrittenExtinfRoundedToTheNearestSecond(double seconds, int rounded)
    {
        Assert.Equal(rounded, MediaPlaylist.RoundedSeconds(TimeSpan.FromSeconds(seconds)));
        var text = MediaPlaylistWriter.Write(new MediaPlaylist { Segments = [new(0, TimeSpan.FromSeconds(seconds), "a.ts")] });
        var extinf = double.Parse(text.Split("#EXTINF:")[1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture);
        var target = int.Parse(text.Split("#EXT-X-TARGETDURATION:")[1].Split('\n')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Math.Round(extinf, MidpointRounding.AwayFromZero) <= target, text);
    }

    [Fact]
    public void VodFmp4PlaylistHasMapTypeAndEndList()
    {
        var text = MediaPlaylistWriter.Write(new MediaPlaylist
        {
            Version = 6,
            IsVod = true,
            MapUri = "v/init.mp4",
            Segments = [new HlsSegment(0, TimeSpan.FromSeconds(2), "v/0.m4s"), new HlsSegment(1, TimeSpan.FromSeconds(2), "v/1.m4s")],
        });

        Assert.Contains("#EXT-X-VERSION:6\n", text, StringComparison.Ordinal);
        Assert.Contains("#EXT-X-PLAYLIST-TYPE:VOD\n", text, StringComparison.Ordinal);
        Assert.Contains("#EXT-X-MAP:URI=\"v/init.mp4\"\n", text, StringComparison.Ordinal);
        Assert.EndsWith("v/1.m4s\n#EXT-X-ENDLIST\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void DiscontinuityIsTaggedWithItsDateButNotAtTheHeadOfTheWindow()
    {
        var text = MediaPlaylistWriter.Write(new MediaPlaylist
        {
            MediaSequence = 3,
            DiscontinuitySequence = 2,
            Segments =
            [
                new HlsSegment(3, TimeSpan.FromSeconds(2), "3.ts", Discontinuity: true, ProgramDateTime: _start),
                new HlsSegment(4, TimeSpan.FromSeconds(2), "4.ts", Discontinuity: true, ProgramDateTime: _start.AddSeconds(60)),
            ],
        });

        Assert.Contains("#EXT-X-DISCONTINUITY-SEQUENCE:2\n", text, StringComparison.Ordinal);
        Assert.Single(text.Split('\n'), l => l == "#EXT-X-DISCONTINUITY");
        Assert.Contains("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:01:00.000Z\n#EXTINF:2.000,\n4.ts\n", text, StringComparison.Ordinal);
    }

    /// <summary>
    /// In a delta update the first listed segment is not the head of the window (the skipped ones are before it): its
    /// discontinuity was left out, and a player that merged the update counted every later segment's discontinuity one
    /// short (a review's finding).
    /// </summary>
    [Fact]
    public void AfterASkip_TheFirstListedSegmentKeepsItsDiscontinuity()
    {
        var text = MediaPlaylistWriter.Write(new MediaPlaylist
        {
            Version = 9,
            MediaSequence = 10,
            SkippedSegments = 6,
            Segments =
            [
                new HlsSegment(16, TimeSpan.FromSeconds(2), "16.m4s", Discontinuity: true),
                new HlsSegment(17, TimeSpan.FromSeconds(2), "17.m4s"),
            ],
        });

        Assert.Contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n", text, StringComparison.Ordinal);
        Assert.Contains("#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n16.m4s\n", text, StringComparison.Ordinal);
    }

    /// <summary>The parts of a segment that is a gap (its fragments were lost) are gaps too: a player must not load them.</summary>
    [Fact]
    public void TheParts_OfASegmentThatIsAGap_AreGaps()
    {
        HlsPart[] parts = [new(TimeSpan.FromSeconds(1), "16.0.m4s", true), new(TimeSpan.FromSeconds(1), "16.1.m4s", false)];
        var text = MediaPlaylistWriter.Write(new MediaPlaylist
        {
            Version = 9,
            MediaSequence = 15,
            Segments =
            [
                new HlsSegment(15, TimeSpan.FromSeconds(2), "15.m4s") { Parts = [new(TimeSpan.FromSeconds(2), "15.0.m4s", true)] },
                new HlsSegment(16, TimeSpan.FromSeconds(2), "16.m4s", Gap: true) { Parts = parts },
            ],
        });

        Assert.Contains("#EXT-X-PART:DURATION=2.000,URI=\"15.0.m4s\",INDEPENDENT=YES\n#EXTINF", text, StringComparison.Ordinal);
        Assert.Contains("#EXT-X-PART:DURATION=1.000,URI=\"16.0.m4s\",INDEPENDENT=YES,GAP=YES\n#EXT-X-PART:DURATION=1.000,URI=\"16.1.m4s\",GAP=YES\n#EXT-X-GAP\n", text, StringComparison.Ordinal);
    }
}
