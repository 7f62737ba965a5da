using System.Buffers.Binary;

namespace PublishingPoint.Media.Codecs.H264;

/// <summary>
/// AVCDecoderConfigurationRecord, the body of an 'avcC' box (ISO/IEC 14496-15 5.3.3.1):
/// <code>
/// u8 configurationVersion = 1
/// u8 AVCProfileIndication, u8 profile_compatibility, u8 AVCLevelIndication
/// bit(6) reserved '111111', u2 lengthSizeMinusOne
/// bit(3) reserved '111', u5 numOfSequenceParameterSets, then { u16 length, NAL unit } each
/// u8 numOfPictureParameterSets, then { u16 length, NAL unit } each
/// [high profiles: chroma_format, bit depths, SPS extensions; ignored when read, not written]
/// </code>
/// </summary>
public sealed class AvcDecoderConfiguration
{
    private readonly ReadOnlyMemory<byte>[] _sps;
    private readonly ReadOnlyMemory<byte>[] _pps;

    public AvcDecoderConfiguration(
        IReadOnlyList<ReadOnlyMemory<byte>> sequenceParameterSets,
        IReadOnlyList<ReadOnlyMemory<byte>> pictureParameterSets,
        int nalLengthSize = 4)
    {
        ArgumentNullException.ThrowIfNull(sequenceParameterSets);
        ArgumentNullException.ThrowIfNull(pictureParameterSets);
        if (sequenceParameterSets.Count is 0 or > 31 || pictureParameterSets.Count is 0 or > 255)
        {
            throw new InvalidDataException("An AVC configuration needs 1..31 SPS and 1..255 PPS.");
        }

        if (nalLengthSize is not (1 or 2 or 4))
        {
            throw new InvalidDataException($"NAL length size {nalLengthSize} is not 1, 2 or 4.");
        }

        _sps = [.. sequenceParameterSets];
        _pps = [.. pictureParameterSets];
        NalLengthSize = nalLengthSize;
        Sps = SequenceParameterSet.Parse(_sps[0].Span);

        // The SPS is authoritative; avcC copies bytes 1..3 of the first SPS.
        var first = _sps[0].Span;
        ProfileIndication = first[1];
        ProfileCompatibility = first[2];
        LevelIndication = first[3];
    }

    public byte ProfileIndication { get; }
    public byte ProfileCompatibility { get; }
    public byte LevelIndication { get; }

    /// <summary>Bytes in each NAL unit length prefix of the samples (lengthSizeMinusOne + 1).</summary>
    public int NalLengthSize { get; }

    public IReadOnlyList<ReadOnlyMemory<byte>> SequenceParameterSets => _sps;
    public IReadOnlyList<ReadOnlyMemory<byte>> PictureParameterSets => _pps;

    /// <summary>The first SPS, parsed.</summary>
    public SequenceParameterSet Sps { get; }

    public int Width => Sps.Width;
    public int Height => Sps.Height;

    /// <summary>RFC 6381 codecs parameter, e.g. "avc1.64001f".</summary>
    public string CodecString => Rfc6381.ForAvc(ProfileIndication, ProfileCompatibility, LevelIndication);

    public static AvcDecoderConfiguration Parse(ReadOnlySpan<byte> record)
    {
        if (record.Length < 7 || record[0] != 1)
        {
            throw new InvalidDataException("Not an AVCDecoderConfigurationRecord (version 1).");
        }

        var nalLengthSize = (record[4] & 0x03) + 1;
        var offset = 5;
        var sps = ReadParameterSets(record, ref offset, record[offset++] & 0x1F);
        if (offset >= record.Length)
        {
            throw new InvalidDataException("avcC record ends before the PPS count.");
        }

        var pps = ReadParameterSets(record, ref offset, record[offset++]);
        return new AvcDecoderConfiguration(sps, pps, nalLengthSize);
    }

    /// <summary>Builds a configuration from Annex B parameter sets (start code, SPS, start code, PPS ...).</summary>
    public static AvcDecoderConfiguration FromAnnexB(ReadOnlySpan<byte> annexB, int nalLengthSize = 4)
    {
        var sps = new List<ReadOnlyMemory<byte>>();
        var pps = new List<ReadOnlyMemory<byte>>();
        var rest = annexB;
        while (AnnexB.TryReadNalUnit(ref rest, out var nal))
        {
            var type = NalUnitType.Of(nal[0]);
            if (type == NalUnitType.Sps)
            {
                sps.Add(nal.ToArray());
            }
            else if (type == NalUnitType.Pps)
            {
                pps.Add(nal.ToArray());
            }
        }

        return new AvcDecoderConfiguration(sps, pps, nalLengthSize);
    }

    /// <summary>From Smooth Streaming CodecPrivateData: hex of Annex B "00000001 SPS 00000001 PPS".</summary>
    public static AvcDecoderConfiguration FromCodecPrivateData(string hex, int nalLengthSize = 4)
    {
        ArgumentNullException.ThrowIfNull(hex);
        return FromAnnexB(Convert.FromHexString(hex), nalLengthSize);
    }

    /// <summary>Size of the avcC record <see cref="Write"/> produces.</summary>
    public int GetRecordLength()
    {
        var length = 7;
        foreach (var nal in _sps)
        {
            length += 2 + nal.Length;
        }

        foreach (var nal in _pps)
        {
            length += 2 + nal.Length;
        }

        return length;
    }

    /// <summary>Writes the avcC record (without high-profile extension fields); returns bytes written.</summary>
    public int Write(Span<byte> destination)
    {
        var length = GetRecordLength();
        if (destination.Length < length)
        {
            throw new ArgumentException("Destination too small for the avcC record.", nameof(destination));
        }

        destination[0] = 1;
        destination[1] = ProfileIndication;
        destination[2] = ProfileCompatibility;
        destination[3] = LevelIndication;
        destination[4] = (byte)(0xFC | (NalLengthSize - 1));
        destination[5] = (byte)(0xE0 | _sps.Length);
        var offset = WriteParameterSets(destination, 6, _sps);
        destination[offset++] = (byte)_pps.Length;
        WriteParameterSets(destination, offset, _pps);
        return length;
    }

    private static ReadOnlyMemory<byte>[] ReadParameterSets(ReadOnlySpan<byte> record, ref int offset, int count)
    {
        var sets = new ReadOnlyMemory<byte>[count];
        for (var i = 0; i < count; i++)
        {
            if (offset + 2 > record.Length)
            {
                throw new InvalidDataException("avcC parameter set length runs past the record.");
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(record[offset..]);
            offset += 2;
            if (length == 0 || offset + length > record.Length)
            {
                throw new InvalidDataException("avcC parameter set runs past the record.");
            }

            sets[i] = record.Slice(offset, length).ToArray();
            offset += length;
        }

        return sets;
    }

    private static int WriteParameterSets(Span<byte> destination, int offset, ReadOnlyMemory<byte>[] sets)
    {
        foreach (var nal in sets)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], (ushort)nal.Length);
            nal.Span.CopyTo(destination[(offset + 2)..]);
            offset += 2 + nal.Length;
        }

        return offset;
    }
}
