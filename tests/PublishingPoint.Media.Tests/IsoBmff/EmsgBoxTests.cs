using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.Tests.IsoBmff;

public class EmsgBoxTests
{
    [Theory]
    [InlineData(0, "urn:scte:scte35:2013:bin", "", 90_000u, 4500L, 180_000u, 17u)]
    [InlineData(1, "https://aomedia.org/emsg/ID3", "x", 1000u, 123_456_789_012L, EmsgBox.UnknownDuration, 4_000_000_000u)]
    public void RoundTrips(byte version, string scheme, string value, uint timescale, long time, uint duration, uint id)
    {
        var box = new EmsgBox(version, scheme, value, timescale, time, duration, id, [1, 2, 3, 0, 4]);

        var bytes = box.Write();

        Assert.True(BoxHeader.TryRead(bytes, out var header));
        Assert.Equal("emsg", header.Type.ToString());
        Assert.Equal(bytes.Length, header.Size);
        Assert.True(EmsgBox.TryRead(bytes.AsSpan(header.HeaderLength), out var read));
        Assert.Equal(box with { MessageData = [] }, read! with { MessageData = [] });
        Assert.Equal(box.MessageData, read.MessageData);
    }

    [Fact]
    public void Version1LaysOutItsFieldsAsTheSpecificationSays()
    {
        var bytes = new EmsgBox(1, "a", "b", 10, 20, 30, 40, [0xEE]).Write();

        Assert.Equal(Convert.FromHexString("00000025656D7367" + "01000000" + "0000000A" + "0000000000000014" + "0000001E" + "00000028" + "6100" + "6200" + "EE"), bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("02000000")] // unknown version
    [InlineData("000000006100")] // version 0 without value string
    [InlineData("01000000000000010000000000000001")] // version 1 cut before its id
    public void MalformedBoxesAreRefused(string payload) => Assert.False(EmsgBox.TryRead(Convert.FromHexString(payload), out _));
}
