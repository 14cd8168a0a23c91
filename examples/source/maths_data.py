"""Maths, data and learning sessions."""

from .dsl import A, Chat, T, U

CHATS = [
    Chat(
        "2026-01-25T16:40",
        "deepseek-r1:8b",
        [
            U(
                "A test for a disease is 99% sensitive and 95% specific. 1 in 1000 people have the disease. If I test positive, what's the chance I have it?"
            ),
            A(
                "About 2%. Use Bayes' theorem, or just count in a population of 100,000:\n\n- 100 have the disease; 99 of them test positive.\n- 99,900 don't; 5% of them, 4,995, test positive anyway.\n- Positives: 99 + 4,995 = 5,094. Of these, 99 are sick.\n\nP(disease | positive) = 99 / 5,094 ≈ 1.9%.\n\nThe false positives from the huge healthy group swamp the true ones. That's why a positive screening result is followed by a second, more specific test: after a second independent positive, the probability jumps to roughly 28%."
            ),
        ],
    ),
    Chat(
        "2026-02-16T21:05",
        "deepseek-r1:8b",
        [
            U("Explain eigenvalues intuitively, I know matrix multiplication."),
            A(
                "Think of a matrix as a machine that moves every vector somewhere else: it stretches, squashes, rotates, shears. Most vectors come out pointing in a new direction. But some special directions come out pointing the same way (or exactly the opposite way), only longer or shorter. Those are the **eigenvectors**, and the factor by which they get stretched is the **eigenvalue**:\n\nA v = λ v\n\nExample: the matrix [[2, 0], [0, 3]] stretches the x-axis by 2 and the y-axis by 3, so its eigenvectors are the axes with eigenvalues 2 and 3. A shear like [[1, 1], [0, 1]] has only one eigen-direction, the x-axis, with eigenvalue 1.\n\nWhy care: repeatedly applying a matrix is dominated by its largest eigenvalue (population models, PageRank), and in a covariance matrix the eigenvectors are the directions of greatest spread (that's PCA)."
            ),
            U("so what does a negative eigenvalue mean?"),
            A(
                "That the special direction gets flipped: the vector comes out pointing the opposite way, scaled by |λ|. A reflection across the y-axis, [[-1, 0], [0, 1]], has eigenvalue -1 along the x-axis. And complex eigenvalues mean there's no real direction that stays put at all, as in a rotation."
            ),
        ],
    ),
    Chat(
        "2026-05-03T13:25",
        "phi4:14b",
        [
            U("Mortgage: 300,000 over 25 years at 4.2% fixed. Monthly payment and total interest?"),
            A(
                "With monthly rate r = 0.042 / 12 = 0.0035 and n = 300 payments, the annuity formula is\n\nM = P r / (1 - (1 + r)^-n)\n\n(1.0035)^300 ≈ 2.853, so 1 - 1/2.853 ≈ 0.6495, and M = 300,000 x 0.0035 / 0.6495 ≈ **1,616.90 per month**.\n\nTotal paid: 1,616.90 x 300 ≈ 485,070, so total interest ≈ **185,070**.\n\nOverpaying 200 a month would cut the term by roughly four years and save around 30,000 in interest; check your lender's overpayment limit, often 10% of the balance a year."
            ),
        ],
    ),
    Chat(
        "2026-09-29T20:15",
        "deepseek-r1:8b",
        [
            U("prove sqrt(2) is irrational, in a way I can explain to my 15 year old"),
            A(
                "Suppose it isn't: then √2 = a/b for whole numbers a and b, and we can pick the fraction in lowest terms, so a and b share no common factor.\n\nSquare both sides: 2 = a²/b², so a² = 2b². That means a² is even. An odd number squared is odd, so a itself must be even: a = 2k.\n\nPut that back: (2k)² = 2b², so 4k² = 2b², so b² = 2k². Now b² is even, so b is even too.\n\nBut then a and b are both even, so they share the factor 2, which contradicts 'lowest terms'. The assumption was wrong: √2 cannot be written as a fraction.\n\nThe key step to check with your teen is 'if a² is even then a is even'; let them try squaring a few odd numbers."
            ),
        ],
    ),
    Chat(
        "2026-03-18T10:10",
        "qwen2.5-coder:7b",
        [
            U(
                "Reading a CSV from our old ERP in pandas gives UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9"
            ),
            A(
                '0xE9 is \'é\' in Latin-1 / Windows-1252, so the file isn\'t UTF-8. Read it with the right encoding:\n\n```python\ndf = pd.read_csv("export.csv", encoding="cp1252")\n```\n\n`cp1252` is a superset of Latin-1 for the printable range and matches what Windows programs write. If you\'re not sure, `charset-normalizer` can guess: `from charset_normalizer import from_path; print(from_path("export.csv").best().encoding)`. When you write it back, use `encoding="utf-8"` so the next tool doesn\'t have the same problem.'
            ),
            U("now the amounts are strings like 1.234,50"),
            A(
                'That\'s the European format: \'.\' for thousands and \',\' for decimals. Tell pandas: `pd.read_csv("export.csv", encoding="cp1252", sep=";", decimal=",", thousands=".")`. Files like this usually use \';\' as the separator, since \',\' is taken.'
            ),
        ],
    ),
    Chat(
        "2026-06-08T14:45",
        "qwen2.5-7b-instruct-q4_k_m",
        provider="openai",
        turns=[
            U("For analytics on ~50 GB of parquet files on my laptop, sqlite or duckdb?"),
            A(
                "DuckDB. It's built for exactly that: columnar, vectorised, multi-threaded, and it queries parquet in place without importing:\n\n```sql\nSELECT store, date_trunc('month', sold_at) AS month, sum(amount)\nFROM 'sales/*.parquet'\nGROUP BY ALL\nORDER BY month;\n```\n\nIt only reads the columns and row groups a query needs, so 50 GB on disk is fine on a laptop. SQLite is a row store built for transactional workloads; aggregations over billions of rows would be many times slower and you'd have to load the data first."
            ),
        ],
    ),
    Chat(
        "2026-10-05T16:00",
        "qwen2.5-coder:7b",
        [
            U("matplotlib: plot temperature and rainfall on the same chart with two y axes"),
            T(
                "read_file",
                {"path": "weather.csv"},
                "month,temp_c,rain_mm\nJan,4.1,62\nFeb,4.8,48\nMar,7.2,41\n...",
                "Read 13 lines",
            ),
            A(
                'Use `twinx()` for the second axis, bars for rainfall and a line for temperature:\n\n```python\nimport pandas as pd\nimport matplotlib.pyplot as plt\n\ndf = pd.read_csv("weather.csv")\nfig, ax_rain = plt.subplots(figsize=(8, 4))\nax_rain.bar(df["month"], df["rain_mm"], color="tab:blue", alpha=0.4, label="rain (mm)")\nax_rain.set_ylabel("rain (mm)")\nax_temp = ax_rain.twinx()\nax_temp.plot(df["month"], df["temp_c"], color="tab:red", marker="o", label="temperature (°C)")\nax_temp.set_ylabel("temperature (°C)")\nfig.legend(loc="upper left", bbox_to_anchor=(0.1, 0.9))\nfig.tight_layout()\nplt.savefig("climate.png", dpi=150)\n```'
            ),
        ],
    ),
    Chat(
        "2026-01-31T12:20",
        "llama3.2:3b",
        [
            U("Simple monthly budget spreadsheet: what columns and formulas?"),
            A(
                'One sheet of transactions and one summary:\n\n**Transactions**: Date | Description | Category | Amount (negative for spending, positive for income).\n\n**Summary** with categories in column A and months across the top (B1 = 2026-01-01, C1 = 2026-02-01, ...):\n\n```\n=SUMIFS(Transactions!$D:$D, Transactions!$C:$C, $A2,\n        Transactions!$A:$A, ">="&B$1, Transactions!$A:$A, "<"&EDATE(B$1,1))\n```\n\nAdd a Budget column next to the categories and a row with `=Budget - ABS(spent)` to see what\'s left. Conditional formatting in red for negatives makes overspending obvious. Keep the category names in a list and use data validation so typos don\'t create new categories.'
            ),
        ],
    ),
    Chat(
        "2026-07-25T09:30",
        "mistral-nemo:12b",
        [
            U("When do I use the subjunctive in Spanish after 'espero que'? Always?"),
            A(
                "Yes: *esperar que* expresses a wish about something not yet real, so it always takes the subjunctive:\n\n- Espero que **vengas** mañana. (I hope you come tomorrow.)\n- Espero que **hayas dormido** bien. (I hope you slept well.)\n\nThe trigger is the meaning (wish, emotion, doubt, influence) plus a change of subject. With the same subject you use the infinitive: *Espero venir mañana* (I hope to come tomorrow).\n\nCompare with *creo que*, which states a belief and takes the indicative (*Creo que viene*), while *no creo que* expresses doubt and takes the subjunctive (*No creo que venga*)."
            ),
            U("give me 5 practice sentences to translate"),
            A(
                "1. I hope it doesn't rain on Saturday.\n2. She hopes to find a flat near the centre.\n3. We hope you liked the dinner.\n4. I don't think the shop is open now.\n5. I think the shop is open now.\n\nAnswers: 1. Espero que no llueva el sábado. 2. Espera encontrar un piso cerca del centro. 3. Esperamos que te haya gustado la cena. 4. No creo que la tienda esté abierta ahora. 5. Creo que la tienda está abierta ahora."
            ),
        ],
    ),
]
