using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Publishing;

namespace PublishingPoint.Server.Tests.Publishing;

/// <summary>The runs of older segments a store still lacks.</summary>
public sealed class BackfillRangesTests
{
    /// <summary>
    /// A second skip ahead while older segments were still to put merged both into one run, from the oldest to the new
    /// window: everything the store took between the two was put again (a review's finding: hours, for a 24/7 channel).
    /// </summary>
    [Fact]
    public void ASecondSkip_IsARunOfItsOwn_AndWhatWasPutBetweenIsNotPutAgain()
    {
        var ranges = new BackfillRanges();
        var video = new Rendition(new TrackKey("video", 400_000), HlsFormat.Ts);
        ranges.Add(video, 0, 10);
        for (var n = 0; n < 5; n++)
        {
            ranges.Done(video, n);
        }

        ranges.Add(video, 20, 30); // the live edge got to 20 meanwhile: 10 to 19 are in the store
        Assert.Equal([[5L, 10L], [20L, 30L]], ranges.Saved(video));

        for (var n = 5; n < 10; n++)
        {
            ranges.Done(video, n);
        }

        Assert.Equal([[20L, 30L]], ranges.Saved(video));
        var restored = new BackfillRanges();
        restored.Restore(video, ranges.Saved(video));
        Assert.Equal([[20L, 30L]], restored.Saved(video));
    }
    /// <summary>Done for a segment of a later run (a VOD's pass puts every run) moves that run, not the first.</summary>
    [Fact]
    public void ASegmentOfALaterRun_IsDoneInThatRun()
    {
        var ranges = new BackfillRanges();
        var audio = new Rendition(new TrackKey("audio", 64_000), HlsFormat.Fmp4);
        ranges.Add(audio, 0, 5);
        ranges.Add(audio, 10, 15);
        ranges.Done(audio, 10);
        Assert.Equal([[0L, 5L], [11L, 15L]], ranges.Saved(audio));
        for (var n = 0; n < 5; n++)
        {
            ranges.Done(audio, n);
        }

        for (var n = 11; n < 15; n++)
        {
            ranges.Done(audio, n);
        }

        Assert.True(ranges.IsEmpty);
    }
}
