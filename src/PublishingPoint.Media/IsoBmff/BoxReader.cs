namespace PublishingPoint.Media.IsoBmff;

/// <summary>Walks the boxes packed in a span (a file's top level or a container's payload).</summary>
public ref struct BoxReader
{
    private readonly ReadOnlySpan<byte> _source;
    private int _offset;

    public BoxReader(ReadOnlySpan<byte> source)
    {
        _source = source;
        _offset = 0;
    }

    /// <summary>Offset of the box returned by the last <see cref="TryNext"/>, relative to the span.</summary>
    public int Offset { get; private set; }

    public BoxHeader Header { get; private set; }

    /// <summary>The whole box (header and payload) returned by the last <see cref="TryNext"/>.</summary>
    public ReadOnlySpan<byte> Box => _source.Slice(Offset, (int)Header.Size);

    public ReadOnlySpan<byte> Payload => _source.Slice(Offset + Header.HeaderLength, (int)Header.PayloadLength);

    /// <summary>Moves to the next box; false at the end. A box that does not fit in the span is an error.</summary>
    public bool TryNext()
    {
        if (_offset >= _source.Length)
        {
            return false;
        }

        var rest = _source[_offset..];
        if (!BoxHeader.TryRead(rest, out var header))
        {
            throw new InvalidBoxException($"truncated box header at offset {_offset}");
        }

        if (header.Size > rest.Length)
        {
            throw InvalidBoxException.For(header.Type, $"size {header.Size} runs past its container ({rest.Length} bytes left)");
        }

        Offset = _offset;
        Header = header;
        _offset += (int)header.Size;
        return true;
    }

    /// <summary>Finds the first child of the given type; returns its offset in the span or -1.</summary>
    public static int Find(ReadOnlySpan<byte> source, FourCC type, out BoxHeader header)
    {
        var reader = new BoxReader(source);
        while (reader.TryNext())
        {
            if (reader.Header.Type == type)
            {
                header = reader.Header;
                return reader.Offset;
            }
        }

        header = default;
        return -1;
    }
}
