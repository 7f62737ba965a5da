using PublishingPoint.Media.MpegTs;

namespace PublishingPoint.Media.Tests.MpegTs;

/// <summary>One stream's timeline carried from one input to the next (each HLS segment PUT is its own request).</summary>
public sealed class TsTimelineTests
{
    private const long Wrap = 1L << 33;

    [Fact]
    public void ContinuedPastTheWrap_TheNextInputCarriesOnUpward()
    {
        var timeline = new TsTimeline();
        timeline.Continue(Wrap - 90_000);              // the last input ended a second before the wrap
        Assert.Equal(Wrap + 90_000, timeline.Unwrap(90_000)); // the next one starts a second after it, raw PTS small again
        Assert.Equal(Wrap + 93_600, timeline.Unwrap(93_600));
        Assert.Equal(0, timeline.Discontinuities);
    }

    [Fact]
    public void AnInputOnAnotherClock_StartsOnItsOwnTimes()
    {
        var restarted = new TsTimeline();
        restarted.Continue(500 * 90_000L);
        Assert.Equal(10 * 90_000L, restarted.Unwrap(10 * 90_000L)); // 490 s back: an encoder restarted, not a retry
        Assert.Equal(11 * 90_000L, restarted.Unwrap(11 * 90_000L)); // and its own spacing after that
        Assert.Equal(0, restarted.Discontinuities);

        // Half the wrap away: continuing would have placed it 13 hours ahead.
        var stray = new TsTimeline();
        stray.Continue(Wrap - (3_600 * 90_000L));
        Assert.Equal(90_000, stray.Unwrap(90_000));
    }

    [Fact]
    public void ARetriedSegment_KeepsItsOwnTimes()
    {
        var retried = new TsTimeline();
        retried.Continue(500 * 90_000L);
        Assert.Equal(496 * 90_000L, retried.Unwrap(496 * 90_000L)); // a segment sent again: its times, duplicates for ingest
        Assert.Equal(0, retried.Discontinuities);
    }
}
