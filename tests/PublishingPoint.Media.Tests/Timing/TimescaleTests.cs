using PublishingPoint.Media.Timing;

namespace PublishingPoint.Media.Tests.Timing;

public class TimescaleTests
{
    [Theory]
    [InlineData(0L, 10_000_000L, 0L)]
    [InlineData(10_000_000L, 10_000_000L, 90_000L)]
    [InlineData(400_000L, 10_000_000L, 3_600L)] // 40 ms in HNS
    [InlineData(1024L, 48_000L, 1_920L)]
    [InlineData(1L, 48_000L, 2L)] // 1.875 -> 2
    [InlineData(512L, 12_800L, 3_600L)]
    [InlineData(-1024L, 12_800L, -7_200L)]
    [InlineData(90_000L, 90_000L, 90_000L)]
    public void RescalesTo90k(long value, long timescale, long expected)
    {
        Assert.Equal(expected, Timescale.To90k(value, timescale));
    }

    [Fact]
    public void RoundsHalfUpOnBothSidesOfZero()
    {
        // 1 tick at 180 kHz is exactly half a 90 kHz tick.
        Assert.Equal(1, Timescale.Rescale(1, 180_000, 90_000));
        Assert.Equal(0, Timescale.Rescale(-1, 180_000, 90_000));
        Assert.Equal(-1, Timescale.Rescale(-3, 180_000, 90_000));
    }

    [Fact]
    public void DoesNotDriftOverALongTimeline()
    {
        // 29.97 fps in HNS (333667 per frame, rounded) over a day of absolute timestamps.
        const long FrameHns = 333_667;
        for (long frame = 0; frame < 2_600_000; frame += 99_991)
        {
            var hns = frame * FrameHns;
            Assert.Equal((long)Math.Round(hns * 9m / 1000m, MidpointRounding.AwayFromZero), Timescale.To90k(hns, 10_000_000));
        }
    }

    [Fact]
    public void DoesNotOverflowWithLargeValues()
    {
        // 2^62 at a 1 GHz clock: value * 90000 overflows 64 bits, the result does not.
        var value = 1L << 62;
        Assert.Equal(415_051_741_658_465L, Timescale.To90k(value, 1_000_000_000));
    }
}
