using PublishingPoint.Media.Codecs;

namespace PublishingPoint.Media.Tests.Codecs;

public class BitReaderTests
{
    [Fact]
    public void ReadsExpGolombCodes()
    {
        // ue: 1 | 010 | 011 | 00100, then se: 00101 (codeNum 4) | 0001000 (codeNum 7), packed MSB first
        ReadOnlySpan<byte> data = [0b1010_0110, 0b0100_0010, 0b1000_1000, 0b0000_0000];
        var r = new BitReader(data);
        Assert.Equal(0u, r.ReadUe());
        Assert.Equal(1u, r.ReadUe());
        Assert.Equal(2u, r.ReadUe());
        Assert.Equal(3u, r.ReadUe());
        Assert.Equal(-2, r.ReadSe()); // codeNum 4
        Assert.Equal(4, r.ReadSe()); // codeNum 7 -> +4
        Assert.Equal(24, r.BitsRead);
    }

    [Fact]
    public void DropsEmulationPreventionBytesOnlyWhenAsked()
    {
        ReadOnlySpan<byte> data = [0x00, 0x00, 0x03, 0x01, 0xAB];
        var rbsp = new BitReader(data, skipEmulationPrevention: true);
        Assert.Equal(0x000001ABu, rbsp.ReadBits(32));
        Assert.True(rbsp.IsAtEnd);

        var raw = new BitReader(data);
        Assert.Equal(0x00000301u, raw.ReadBits(32));
    }

    [Fact]
    public void KeepsAThreeByteThatDoesNotFollowTwoZeros()
    {
        ReadOnlySpan<byte> data = [0x00, 0x03, 0x00, 0x00, 0x03, 0x03];
        var r = new BitReader(data, skipEmulationPrevention: true);
        Assert.Equal(0x0003_0000u, r.ReadBits(32));
        Assert.Equal(0x03u, r.ReadBits(8));
        Assert.True(r.IsAtEnd);
    }

    [Fact]
    public void ThrowsPastTheEnd()
    {
        var threw = false;
        try
        {
            var r = new BitReader([0xFF]);
            r.ReadBits(9);
        }
        catch (InvalidDataException)
        {
            threw = true;
        }

        Assert.True(threw);
    }
}
