using PublishingPoint.Media.Scte35;

namespace PublishingPoint.Media.Tests.Scte35;

public class SpliceInfoTests
{
    // splice_info_sections as ANSI/SCTE 35 lays them out (CRC bytes zero: not checked here).
    [Theory]
    // splice_insert, event 0x3E9, out of network, program splice, duration, splice_time pts 360000, break 360000
    [InlineData("FC3025000000000000FFFFF014" + "05" + "000003E97FEFFE00057E40FE00057E40" + "00010000" + "0000" + "00000000", SpliceKind.Out, 0x3E9u, 360_000L)]
    // splice_insert, return, immediate
    [InlineData("FC301B000000000000FFFFF00A" + "05" + "000003E97F5F" + "00010000" + "0000" + "00000000", SpliceKind.In, 0x3E9u, null)]
    // time_signal
    [InlineData("FC3016000000000000FFFFF005" + "06" + "FE00083D60" + "0000" + "00000000", SpliceKind.Command, null, null)]
    // splice_insert cancelled
    [InlineData("FC3015000000000000FFFFF005" + "05" + "000003E9FF" + "0000" + "00000000", SpliceKind.Command, 0x3E9u, null)]
    public void ReadsTheCommand(string hex, SpliceKind kind, uint? eventId, long? breakDuration)
    {
        Assert.True(SpliceInfo.TryRead(Convert.FromHexString(hex), out var info));

        Assert.Equal(new SpliceInfo(kind, eventId, breakDuration), info);
    }

    [Theory]
    [InlineData("")]
    [InlineData("FB3016000000000000FFFFF005")]
    public void OtherBytesAreNotASpliceInfoSection(string hex) => Assert.False(SpliceInfo.TryRead(Convert.FromHexString(hex), out _));

    [Theory]
    // splice_insert at pts 360000, no pts_adjustment
    [InlineData("FC3025000000000000FFFFF014" + "05" + "000003E97FEFFE00057E40FE00057E40" + "00010000" + "0000" + "00000000", 360_000L)]
    // time_signal at pts 540000 with pts_adjustment 90000
    [InlineData("FC3016000000015F90FFFFF005" + "06" + "FE00083D60" + "0000" + "00000000", 630_000L)]
    // the 33rd bit of the time
    [InlineData("FC3016000000000000FFFFF005" + "06" + "FF00000000" + "0000" + "00000000", 4_294_967_296L)]
    public void ReadsTheSpliceTimeWithItsAdjustment(string hex, long expected)
    {
        Assert.True(SpliceInfo.TrySpliceTime(Convert.FromHexString(hex), out var time));

        Assert.Equal(expected, time);
    }

    [Theory]
    [InlineData("FC301B000000000000FFFFF00A" + "05" + "000003E97F5F" + "00010000" + "0000" + "00000000")] // immediate
    [InlineData("FC3016000000000000FFFFF005" + "06" + "7E" + "0000" + "00000000")] // time_signal without a time
    public void ASpliceWithoutATimeHasNone(string hex) => Assert.False(SpliceInfo.TrySpliceTime(Convert.FromHexString(hex), out _));
}
