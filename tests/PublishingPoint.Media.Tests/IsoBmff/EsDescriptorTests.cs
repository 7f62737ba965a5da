using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.Tests.IsoBmff;

/// <summary>The 'esds' descriptors of an AAC sample entry: read as AAC nests them, and no deeper.</summary>
public sealed class EsDescriptorTests
{
    private static readonly TrackInfo _track = new() { TrackId = 2, Kind = TrackKind.Audio, Timescale = 48000, SampleEntry = FourCC.From("mp4a"), TrakBox = ReadOnlyMemory<byte>.Empty };

    [Fact]
    public void AacNesting_GivesTheAudioSpecificConfigAndTheAverageBitrate()
    {
        byte[] decoderConfig = [0x40, 0x15, 0, 0, 0, 0, 1, 0xF4, 0, 0, 0, 0xFA, 0];
        var config = Descriptor(4, [.. decoderConfig, .. Descriptor(5, [0x11, 0x90])]);
        var esds = Descriptor(3, [0, 1, 0, .. config]);

        var read = EsDescriptorReader.Apply(_track, esds);

        Assert.Equal(new byte[] { 0x11, 0x90 }, read.DecoderConfig);
        Assert.Equal(64_000, read.AverageBitrate);
    }

    [Fact]
    public void EsDescriptorsNestedAHundredThousandDeep_AreReadWithoutRecursingIntoThem()
    {
        // A 'moov' may be 4 MB: 100,000 levels of 5 bytes each, innermost the AudioSpecificConfig. A call per level
        // overflowed the stack, which no handler catches: the whole server went down.
        const int levels = 100_000;
        var innermost = Descriptor(5, [0x11, 0x90]);
        var nested = new byte[(levels * 8) + innermost.Length];
        for (var at = 0; at < levels * 8; at += 8)
        {
            Header(3, nested.Length - at - 5).CopyTo(nested, at); // then ES_ID 1 and no flags: 0, 1, 0
            nested[at + 6] = 1;
        }

        innermost.CopyTo(nested, levels * 8);

        var read = EsDescriptorReader.Apply(_track, nested);

        Assert.Empty(read.DecoderConfig);
    }

    private static byte[] Descriptor(byte tag, byte[] body) => [.. Header(tag, body.Length), .. body];

    // tag, then the length in the four-byte form (7 bits a byte, the high bit set on all but the last).
    private static byte[] Header(byte tag, int length) =>
        [tag, (byte)(0x80 | ((length >> 21) & 0x7F)), (byte)(0x80 | ((length >> 14) & 0x7F)), (byte)(0x80 | ((length >> 7) & 0x7F)), (byte)(length & 0x7F)];
}
