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
    public void AnEncoderWhoseClockRestarted_ResumesJustAfterTheLastInput()
    {
        var timeline = new TsTimeline();
        timeline.Continue(500 * 90_000L);
        var first = timeline.Unwrap(10 * 90_000L);    // 490 s back: not a retry of a recent segment
        Assert.InRange(first, (500 * 90_000L) + 1, (501 * 90_000L));
        Assert.Equal(first + 90_000, timeline.Unwrap(11 * 90_000L));
        Assert.Equal(1, timeline.Discontinuities);
    }

    [Fact]
    public void ARetriedSegment_OrAPausedClock_KeepsItsOwnTimes()
    {
        var retried = new TsTimeline();
        retried.Continue(500 * 90_000L);
        Assert.Equal(496 * 90_000L, retried.Unwrap(496 * 90_000L)); // a segment sent again: its times, duplicates for ingest

        var paused = new TsTimeline();
        paused.Continue(500 * 90_000L);
        Assert.Equal(3_500 * 90_000L, paused.Unwrap(3_500 * 90_000L)); // an hour later on the encoder's clock: the gap stays
        Assert.Equal(0, retried.Discontinuities + paused.Discontinuities);
    }
}
