namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>Rows for a URL reader's differential test: the fixed URLs, then seeded random ones, each URL once.</summary>
public static class RandomUrls
{
    /// <param name="shape">Makes the i-th random URL from random text over <paramref name="alphabet"/>.</param>
    public static TheoryData<string> Rows(string[] fixedUrls, int seed, string alphabet, int count, int maxLength, Func<int, string, string> shape)
    {
        ArgumentNullException.ThrowIfNull(fixedUrls);
        ArgumentNullException.ThrowIfNull(alphabet);
        ArgumentNullException.ThrowIfNull(shape);
        var data = new TheoryData<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var url in fixedUrls)
        {
            if (seen.Add(url))
            {
                data.Add(url);
            }
        }

        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var text = new char[random.Next(1, maxLength)];
            for (var c = 0; c < text.Length; c++)
            {
                text[c] = alphabet[random.Next(alphabet.Length)];
            }

            var url = shape(i, new string(text));
            if (seen.Add(url))
            {
                data.Add(url);
            }
        }

        return data;
    }
}
