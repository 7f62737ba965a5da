using PublishingPoint.Media.Codecs.H264;

namespace PublishingPoint.Media.Tests.Codecs.H264;

public class CaptionSeiTests
{
    // SEI NAL payloads (after the NAL header byte): payload type 4, size, T.35 USA/ATSC 'GA94', cc_data, rbsp trailing bits.
    [Theory]
    [InlineData("040EB50031474139340341FFFC9420FF80", CaptionKinds.Cea608Field1)]
    [InlineData("040EB50031474139340341FFFD9420FF80", CaptionKinds.Cea608Field2)]
    [InlineData("040EB50031474139340341FFFF0101FF80", CaptionKinds.Cea708)]
    [InlineData("040EB50031474139340341FFF89420FF80", CaptionKinds.None)] // cc_valid = 0
    [InlineData("040EB50031474139340301FFFC9420FF80", CaptionKinds.None)] // process_cc_data_flag = 0
    [InlineData("040EB50031444C4E540341FFFC9420FF80", CaptionKinds.None)] // not GA94
    [InlineData("0510000102030405060708090A0B0C0D0E0F80", CaptionKinds.None)] // user data unregistered
    [InlineData("000100040EB50031474139340341FFFC9420FF80", CaptionKinds.Cea608Field1)] // after a buffering period message
    public void FindsCaptionDataInSei(string seiPayload, CaptionKinds expected)
    {
        var sample = Sample([0x09, 0xF0], [0x06, .. Convert.FromHexString(seiPayload)], [0x65, 0x88, 0x84]);

        Assert.Equal(expected, CaptionSei.Find(sample, 4));
    }

    [Fact]
    public void EmulationPreventionBytesAreRemovedBeforeReading()
    {
        // A user_data_unregistered message first whose payload holds 00 00 01 and 00 00 02, escaped on the wire as
        // 00 00 03 01 and 00 00 03 02: read unescaped, its size still ends it where the caption message begins.
        var escaped = Convert.FromHexString("06" + "0510" + "00000301" + "00000302" + "11111111111111111111" + "040EB50031474139340341FFFC9420FF" + "80");
        var sample = Sample(escaped);

        Assert.Equal(CaptionKinds.Cea608Field1, CaptionSei.Find(sample, 4));
    }

    [Theory]
    [InlineData(CaptionKinds.Cea608Field1 | CaptionKinds.Cea708, "CC1")]
    [InlineData(CaptionKinds.Cea608Field2, "CC3")]
    [InlineData(CaptionKinds.Cea708, "SERVICE1")]
    [InlineData(CaptionKinds.None, null)]
    public void NamesTheInstreamId(CaptionKinds kinds, string? expected) => Assert.Equal(expected, CaptionSei.InstreamId(kinds));

    [Fact]
    public void ATruncatedSampleIsNotReadPastItsEnd()
    {
        var sample = Sample([0x06, .. Convert.FromHexString("040EB50031474139340341FFFC9420FF80")]);

        Assert.Equal(CaptionKinds.None, CaptionSei.Find(sample.AsSpan(0, sample.Length - 6), 4));
    }

    private static byte[] Sample(params byte[][] nals)
    {
        var output = new List<byte>();
        foreach (var nal in nals)
        {
            output.AddRange([(byte)(nal.Length >> 24), (byte)(nal.Length >> 16), (byte)(nal.Length >> 8), (byte)nal.Length]);
            output.AddRange(nal);
        }

        return [.. output];
    }
}
