using System.Buffers;
using PublishingPoint.Media.Codecs.H264;

namespace PublishingPoint.Media.Tests.Codecs.H264;

public class AnnexBTests
{
    private static readonly AvcDecoderConfiguration Config =
        AvcDecoderConfiguration.FromCodecPrivateData(AvcDecoderConfigurationTests.SmoothCodecPrivateData);

    private static readonly byte[] Sps = Convert.FromHexString(SequenceParameterSetTests.SmoothSps);
    private static readonly byte[] Pps = Convert.FromHexString("68EBEC448440");
    private static readonly byte[] StartCode = [0, 0, 0, 1];
    private static readonly byte[] Aud = [0x09, 0xF0];
    private static readonly byte[] Sei = [0x06, 0x05, 0x01, 0xAA, 0x80];
    private static readonly byte[] Idr = [0x65, 0x88, 0x84, 0x00, 0x33];
    private static readonly byte[] Slice = [0x41, 0x9A, 0x22];

    [Fact]
    public void ConvertsLengthPrefixesToStartCodes()
    {
        var au = Avcc(4, Sei, Slice);
        var output = ToAnnexB(au, 4, default);
        Assert.Equal(Concat(StartCode, Sei, StartCode, Slice), output);
    }

    [Fact]
    public void InsertsAudAndParameterSetsBeforeAnIdr()
    {
        var au = Avcc(4, Sei, Idr);
        var output = ToAnnexB(au, 4, new AnnexBOptions(InsertAud: true, ParameterSets: Config));
        Assert.Equal(Concat(StartCode, Aud, StartCode, Sps, StartCode, Pps, StartCode, Sei, StartCode, Idr), output);
    }

    [Fact]
    public void DoesNotInsertParameterSetsBeforeANonIdrUnlessMarkedKeyframe()
    {
        var au = Avcc(4, Slice);
        Assert.Equal(
            Concat(StartCode, Aud, StartCode, Slice),
            ToAnnexB(au, 4, new AnnexBOptions(InsertAud: true, ParameterSets: Config)));
        Assert.Equal(
            Concat(StartCode, Sps, StartCode, Pps, StartCode, Slice),
            ToAnnexB(au, 4, new AnnexBOptions(ParameterSets: Config, IsKeyframe: true)));
    }

    [Fact]
    public void KeepsInBandParameterSetsAndExistingAud()
    {
        var au = Avcc(2, Aud, Sps, Pps, Idr);
        var output = ToAnnexB(au, 2, new AnnexBOptions(InsertAud: true, ParameterSets: Config));
        Assert.Equal(Concat(StartCode, Aud, StartCode, Sps, StartCode, Pps, StartCode, Idr), output);
    }

    [Fact]
    public void PlacesInsertedParameterSetsAfterAnExistingAud()
    {
        var au = Avcc(1, Aud, Idr);
        var output = ToAnnexB(au, 1, new AnnexBOptions(InsertAud: true, ParameterSets: Config));
        Assert.Equal(Concat(StartCode, Aud, StartCode, Sps, StartCode, Pps, StartCode, Idr), output);
    }

    [Fact]
    public void WritesToABufferWriter()
    {
        var writer = new ArrayBufferWriter<byte>();
        var written = AnnexB.Write(Avcc(4, Idr), 4, new AnnexBOptions(InsertAud: true), writer);
        Assert.Equal(written, writer.WrittenCount);
        Assert.Equal(Concat(StartCode, Aud, StartCode, Idr), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void RejectsALengthRunningPastTheAccessUnit()
    {
        var au = Avcc(4, Slice);
        au[3] = 200;
        Assert.Throws<InvalidDataException>(() => AnnexB.GetLength(au, 4, default));
    }

    [Fact]
    public void SplitsAnAnnexBStream()
    {
        byte[] stream = [0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xCE, 0, 0, 0, 0, 1, 0x65, 0x11];
        ReadOnlySpan<byte> rest = stream;
        var nals = new List<byte[]>();
        while (AnnexB.TryReadNalUnit(ref rest, out var nal))
        {
            nals.Add(nal.ToArray());
        }

        Assert.Equal(3, nals.Count);
        Assert.Equal([0x67, 0x42], nals[0]);
        Assert.Equal([0x68, 0xCE], nals[1]);
        Assert.Equal([0x65, 0x11], nals[2]);
    }

    /// <summary>
    /// A PES payload of nothing but start codes (a hostile encoder's, up to the 16 MB a PES may hold) is read in constant
    /// stack: it was one call per empty unit, and a stack overflow ends the process, every channel with it. On a thread
    /// with a 256 KB stack, 1.5 MB of start codes (500,000 empty units) needs a loop.
    /// </summary>
    [Fact]
    public void EmptyUnitsBetweenStartCodes_AreSkippedInConstantStack()
    {
        var stream = new byte[(500_000 * 3) + 5];
        for (var i = 0; i < 500_000; i++)
        {
            stream[(i * 3) + 2] = 1;
        }

        stream[^3] = 1;
        stream[^2] = 0x65;
        stream[^1] = 0x88;
        byte[]? found = null;
        var reader = new Thread(() =>
        {
            ReadOnlySpan<byte> rest = stream;
            found = AnnexB.TryReadNalUnit(ref rest, out var nal) ? nal.ToArray() : [];
        }, 256 * 1024);
        reader.Start();
        Assert.True(reader.Join(TimeSpan.FromSeconds(30)), "the reader did not finish");
        Assert.Equal([0x65, 0x88], found);
    }

    private static byte[] ToAnnexB(byte[] au, int nalLengthSize, AnnexBOptions options)
    {
        var length = AnnexB.GetLength(au, nalLengthSize, options);
        var buffer = new byte[length + 4];
        Array.Fill(buffer, (byte)0xFF);
        var written = AnnexB.Write(au, nalLengthSize, options, buffer);
        Assert.Equal(length, written);
        Assert.Equal([0xFF, 0xFF, 0xFF, 0xFF], buffer[length..]);
        return buffer[..length];
    }

    internal static byte[] Avcc(int nalLengthSize, params byte[][] nals)
    {
        var output = new List<byte>();
        foreach (var nal in nals)
        {
            for (var shift = (nalLengthSize - 1) * 8; shift >= 0; shift -= 8)
            {
                output.Add((byte)(nal.Length >> shift));
            }

            output.AddRange(nal);
        }

        return [.. output];
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}
